"""Where a user's connected-app tools live: a Composio tool-router session, or the local sink.

`ToolRouter` is the one interface the agent codes against. `ComposioToolRouter` opens one
Composio session per user restricted to the configured toolkits (and preloads the alert
destination tools so they are listed directly), caches it, and renews it when that user's
connections change or it gets old. The composio SDK is synchronous: every call runs in a
worker thread, never on the event loop. `LocalToolRouter` points every user at the agent's
own MCP sink, where connections are active at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode, urlsplit

import composio_client
import httpx
from pydantic import SecretStr, ValidationError

from tracer_ai.chat_tools import chat_session_options, chat_tools
from tracer_ai.destinations import routing_tools, tool_router_toolkits
from tracer_ai.errors import (
    ToolRouterAuthError,
    ToolRouterBadResponse,
    ToolRouterConfigError,
    ToolRouterError,
    ToolRouterNotFound,
    ToolRouterRateLimited,
    ToolRouterUnavailable,
)
from tracer_core.models import ConnectionStatus

logger = logging.getLogger(__name__)

DEFAULT_TOOLKITS: tuple[str, ...] = tool_router_toolkits()

T = TypeVar("T")


@dataclass(frozen=True)
class ToolSession:
    """What an MCP client needs to reach a user's tools."""

    user_id: str
    mcp_url: str
    headers: dict[str, str] = field(repr=False)  # credentials: kept out of log lines
    toolkits: tuple[str, ...]
    session_id: str | None = None
    preloaded_tools: tuple[str, ...] = ()
    created_at: float = 0.0


@dataclass(frozen=True)
class ConnectionRequest:
    """An OAuth connection being made: send the user to `redirect_url`."""

    id: str
    redirect_url: str | None
    status: ConnectionStatus
    toolkit: str = ""
    user_id: str = ""


class ToolRouter(Protocol):
    async def session(self, user_id: str, *, chat: bool = False) -> ToolSession:
        """`chat=True`: a locked-down session for conversations (`tracer_ai.chat_tools`)."""
        ...

    async def authorize(
        self, user_id: str, toolkit: str, *, callback_url: str | None = None
    ) -> ConnectionRequest: ...

    async def connection_status(self, connection_id: str) -> ConnectionStatus: ...

    async def disconnect(self, connection_id: str) -> None: ...

    def invalidate(self, user_id: str) -> None: ...


_STATUS_MAP = {
    "INITIALIZING": ConnectionStatus.INITIATED,
    "INITIATED": ConnectionStatus.INITIATED,
    "ACTIVE": ConnectionStatus.ACTIVE,
    "FAILED": ConnectionStatus.FAILED,
    "EXPIRED": ConnectionStatus.EXPIRED,
    "INACTIVE": ConnectionStatus.INACTIVE,
    "REVOKED": ConnectionStatus.INACTIVE,
}


def map_connection_status(raw: object) -> ConnectionStatus:
    status = _STATUS_MAP.get(str(raw).upper())
    if status is None:
        raise ToolRouterBadResponse(f"unknown connection status {raw!r}")
    return status


def _retry_after(response: httpx.Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("retry-after")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def translate_error(exc: BaseException, action: str) -> ToolRouterError:
    """A composio/composio_client exception as the matching ToolRouterError."""
    if isinstance(exc, ToolRouterError):
        return exc
    if isinstance(exc, composio_client.APIStatusError):
        status = exc.status_code
        message = f"{action}: Composio answered HTTP {status}"
        if status in (401, 403):
            return ToolRouterAuthError(message + " (check COMPOSIO_API_KEY)", status_code=status)
        if status == 404:
            return ToolRouterNotFound(message, status_code=status)
        if status == 429:
            return ToolRouterRateLimited(message, retry_after_s=_retry_after(exc.response))
        if status >= 500:
            return ToolRouterUnavailable(message, status_code=status)
        return ToolRouterError(f"{message}: {str(exc)[:300]}", status_code=status)
    if isinstance(exc, composio_client.APIResponseValidationError):
        return ToolRouterBadResponse(f"{action}: malformed answer from Composio")
    if isinstance(exc, composio_client.APIConnectionError):
        return ToolRouterUnavailable(f"{action}: cannot reach Composio ({type(exc).__name__})")
    if isinstance(
        exc, json.JSONDecodeError | ValidationError | KeyError | AttributeError | TypeError
    ):
        return ToolRouterBadResponse(
            f"{action}: malformed answer from Composio ({type(exc).__name__})"
        )
    module = type(exc).__module__
    if module.startswith("composio"):
        return ToolRouterConfigError(f"{action}: {type(exc).__name__}: {str(exc)[:300]}")
    return ToolRouterError(f"{action}: {type(exc).__name__}: {str(exc)[:300]}")


def _require_enabled(toolkit: str, toolkits: Sequence[str]) -> None:
    if toolkit not in toolkits:
        raise ToolRouterConfigError(
            f"toolkit {toolkit!r} is not enabled (enabled: {', '.join(toolkits)})"
        )


def _chat_key(user_id: str) -> str:
    return f"{user_id}\x00chat"


def _check_base_url(base_url: str | None) -> None:
    if not base_url:
        return
    parts = urlsplit(base_url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ToolRouterConfigError(
            f"COMPOSIO_BASE_URL must be https (or http on loopback), got {base_url!r}"
        )


class ComposioToolRouter:
    """Composio tool-router sessions per user, cached and renewed when connections change."""

    def __init__(
        self,
        api_key: str | SecretStr,
        *,
        base_url: str | None = None,
        toolkits: Sequence[str] = DEFAULT_TOOLKITS,
        preload_tools: Sequence[str] | None = None,
        allow_tracking: bool = False,
        timeout_s: int = 30,
        max_retries: int = 2,
        session_ttl_s: float = 3600.0,
        http_client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if not key:
            raise ToolRouterConfigError("COMPOSIO_API_KEY is empty")
        _check_base_url(base_url)
        self._api_key = key
        self._base_url = base_url
        self.toolkits = tuple(toolkits)
        if preload_tools is None:
            preload_tools = routing_tools(self.toolkits)
        self.preload_tools = tuple(preload_tools)
        self._allow_tracking = allow_tracking
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._ttl = session_ttl_s
        self._http_client = http_client
        self._clock = clock
        self._sdk: Any = None
        self._sdk_lock = asyncio.Lock()
        self._sessions: dict[str, tuple[ToolSession, Any]] = {}
        self._user_locks: dict[str, asyncio.Lock] = {}
        self._connection_users: dict[str, str] = {}

    async def _run(self, action: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking SDK call in a worker thread with telemetry set as configured."""
        from composio.core.models.base import allow_tracking

        def call() -> T:
            # The SDK reads this context variable per call; threads start from a copy of the
            # loop's context, so it is set here, in the thread, every time.
            allow_tracking.set(self._allow_tracking)
            return fn(*args, **kwargs)

        try:
            return await asyncio.to_thread(call)
        except Exception as exc:
            raise translate_error(exc, action) from exc

    async def _client(self) -> Any:
        async with self._sdk_lock:
            if self._sdk is None:
                self._sdk = await self._run("create Composio client", self._build_sdk)
            return self._sdk

    def _build_sdk(self) -> Any:
        from composio import Composio

        options: dict[str, Any] = {
            "api_key": self._api_key,
            "allow_tracking": self._allow_tracking,
            "timeout": self._timeout_s,
            "max_retries": self._max_retries,
        }
        if self._base_url:
            options["base_url"] = self._base_url
        if self._http_client is not None:
            options["http_client"] = self._http_client
        return Composio(**options)

    def _lock_for(self, user_id: str) -> asyncio.Lock:
        return self._user_locks.setdefault(user_id, asyncio.Lock())

    async def session(self, user_id: str, *, chat: bool = False) -> ToolSession:
        """The user's session, from cache while fresh; raises ToolRouterError subclasses.

        Delivery sessions preload the alert tools; chat sessions are locked down (no sandbox,
        no connection management, allow-listed tools only: `tracer_ai.chat_tools`).
        """
        if not user_id:
            raise ValueError("user_id is empty")
        key = _chat_key(user_id) if chat else user_id
        async with self._lock_for(key):
            cached = self._sessions.get(key)
            if cached is not None and self._clock() - cached[0].created_at < self._ttl:
                return cached[0]
            sdk = await self._client()
            options: dict[str, Any] = {
                "user_id": user_id,
                "toolkits": list(self.toolkits),
                "mcp": True,
            }
            if chat:
                options.update(chat_session_options(self.toolkits))
            elif self.preload_tools:
                options["preload"] = {"tools": list(self.preload_tools)}
            raw = await self._run("create tool-router session", sdk.create, **options)
            session = self._to_session(user_id, raw)
            if chat:
                session = replace(session, preloaded_tools=tuple(chat_tools(self.toolkits)))
            self._sessions[key] = (session, raw)
            logger.info(
                "opened %s tool-router session %s for user %s",
                "chat" if chat else "delivery",
                session.session_id,
                user_id,
            )
            return session

    def _to_session(self, user_id: str, raw: Any) -> ToolSession:
        try:
            mcp = raw.mcp
            url = str(mcp.url)
            headers = {str(k): str(v) for k, v in (mcp.headers or {}).items() if v is not None}
            session_id = str(raw.session_id)
        except AttributeError as exc:
            raise ToolRouterBadResponse(f"tool-router session lacks {exc.name}") from exc
        if not url.startswith(("https://", "http://")):
            raise ToolRouterBadResponse(f"tool-router session has no usable MCP URL ({url!r})")
        return ToolSession(
            user_id=user_id,
            mcp_url=url,
            headers=headers,
            toolkits=self.toolkits,
            session_id=session_id,
            preloaded_tools=self.preload_tools,
            created_at=self._clock(),
        )

    async def authorize(
        self, user_id: str, toolkit: str, *, callback_url: str | None = None
    ) -> ConnectionRequest:
        """Start an OAuth connection of `toolkit` for `user_id` through their session."""
        _require_enabled(toolkit, self.toolkits)
        await self.session(user_id)
        raw_session = self._sessions[user_id][1]
        request = await self._run(
            "authorize toolkit", raw_session.authorize, toolkit, callback_url=callback_url
        )
        try:
            connection_id = str(request.id)
            redirect = request.redirect_url
        except AttributeError as exc:
            raise ToolRouterBadResponse("connection request lacks id or redirect_url") from exc
        self._connection_users[connection_id] = user_id
        return ConnectionRequest(
            id=connection_id,
            redirect_url=str(redirect) if redirect else None,
            status=ConnectionStatus.INITIATED,
            toolkit=toolkit,
            user_id=user_id,
        )

    async def connection_status(self, connection_id: str) -> ConnectionStatus:
        """Current status; a newly ACTIVE connection renews its user's session."""
        sdk = await self._client()
        account = await self._run("read connection", sdk.connected_accounts.get, connection_id)
        status = map_connection_status(getattr(account, "status", None))
        user_id = self._connection_users.get(connection_id) or getattr(account, "user_id", None)
        if status is not ConnectionStatus.INITIATED and isinstance(user_id, str):
            self.invalidate(user_id)
            self._connection_users.pop(connection_id, None)
        return status

    async def disconnect(self, connection_id: str) -> None:
        sdk = await self._client()
        account: Any = None
        try:
            account = await self._run("read connection", sdk.connected_accounts.get, connection_id)
        except ToolRouterNotFound:
            return
        await self._run("delete connection", sdk.connected_accounts.delete, connection_id)
        user_id = self._connection_users.pop(connection_id, None) or getattr(
            account, "user_id", None
        )
        if isinstance(user_id, str):
            self.invalidate(user_id)

    def invalidate(self, user_id: str) -> None:
        """Forget the cached sessions so the next `session()` opens a fresh one."""
        self._sessions.pop(user_id, None)
        self._sessions.pop(_chat_key(user_id), None)


@dataclass
class LocalToolRouter:
    """Every user talks to the agent's local MCP sink; connections are ACTIVE at once."""

    sink_mcp_url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # the sink's token
    toolkits: tuple[str, ...] = DEFAULT_TOOLKITS
    _connections: dict[str, tuple[str, str]] = field(default_factory=dict)
    _disconnected: set[str] = field(default_factory=set)

    async def session(self, user_id: str, *, chat: bool = False) -> ToolSession:
        """The sink for everyone; a chat's tools are filtered by the chat engine."""
        if not user_id:
            raise ValueError("user_id is empty")
        return ToolSession(
            user_id=user_id,
            mcp_url=self.sink_mcp_url,
            headers=dict(self.headers),
            toolkits=self.toolkits,
            session_id=None,
            preloaded_tools=routing_tools(self.toolkits),
        )

    async def authorize(
        self, user_id: str, toolkit: str, *, callback_url: str | None = None
    ) -> ConnectionRequest:
        _require_enabled(toolkit, self.toolkits)
        connection_id = f"local_{toolkit}_{secrets.token_hex(6)}"
        self._connections[connection_id] = (user_id, toolkit)
        redirect = None
        if callback_url:
            sep = "&" if urlsplit(callback_url).query else "?"
            query = urlencode({"connection_id": connection_id, "status": "ACTIVE"})
            redirect = f"{callback_url}{sep}{query}"
        return ConnectionRequest(connection_id, redirect, ConnectionStatus.ACTIVE, toolkit, user_id)

    async def connection_status(self, connection_id: str) -> ConnectionStatus:
        """Local connections need no OAuth: ACTIVE until disconnected (also after a restart)."""
        if connection_id in self._disconnected:
            return ConnectionStatus.INACTIVE
        if connection_id in self._connections or connection_id.startswith("local_"):
            return ConnectionStatus.ACTIVE
        raise ToolRouterNotFound(f"unknown local connection {connection_id!r}", status_code=404)

    async def disconnect(self, connection_id: str) -> None:
        self._connections.pop(connection_id, None)
        self._disconnected.add(connection_id)

    def invalidate(self, user_id: str) -> None:
        return None
