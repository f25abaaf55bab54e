"""A client session to one MCP server (a Composio tool-router session or the local sink).

The mcp SDK's transport and session are anyio context managers that must be entered and
exited by the same task. `McpToolbox` therefore runs them in one owner task for the
session's whole life and hands work to it through a queue; callers in any task get plain
awaitables, and `aclose()` (or leaving `connect(...)`) shuts the session down in the task
that opened it. Tool calls never raise for tool, timeout or transport failures: they return
a `ToolResult` whose `error_kind` says what went wrong, because a failed delivery is normal
on-call weather that the caller records and retries.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import httpx2
import mcp_types
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from tracer_ai.errors import McpConnectError, McpToolboxError
from tracer_ai.tool_call import ToolCall

logger = logging.getLogger(__name__)

META_MULTI_EXECUTE = "COMPOSIO_MULTI_EXECUTE_TOOL"
META_TOOL_PREFIX = "COMPOSIO_"

# "rejected": the destination refused the request for good (a webhook's 4xx): no retry.
ErrorKind = Literal["tool_error", "timeout", "transport", "protocol", "rejected"]
HttpClientFactory = Callable[[dict[str, str]], httpx2.AsyncClient]


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the server lists it; `input_schema` is its JSON Schema."""

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call. `ok` is false exactly when `error_kind` is set."""

    ok: bool
    text: str
    structured: Any = None
    error_kind: ErrorKind | None = None
    error: str | None = None

    @classmethod
    def failure(cls, kind: ErrorKind, error: str, *, text: str = "") -> ToolResult:
        return cls(ok=False, text=text or error, error_kind=kind, error=error)


def default_http_client(headers: dict[str, str]) -> httpx2.AsyncClient:
    return create_mcp_http_client(headers=headers)


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def describe_error(exc: BaseException) -> str:
    leaf = _leaf(exc)
    if isinstance(leaf, httpx2.HTTPStatusError):
        return f"HTTP {leaf.response.status_code} from {leaf.request.url}"
    text = str(leaf).strip()
    name = type(leaf).__name__
    return f"{name}: {text}"[:500] if text else name


def _error_kind(exc: BaseException) -> ErrorKind:
    leaf = _leaf(exc)
    if isinstance(leaf, TimeoutError):
        return "timeout"
    if isinstance(leaf, MCPError):
        if leaf.code == mcp_types.REQUEST_TIMEOUT:
            return "timeout"
        if leaf.code == mcp_types.CONNECTION_CLOSED or leaf.error.message == "Session terminated":
            return "transport"
        return "protocol"
    if isinstance(leaf, ValidationError):
        return "protocol"
    return "transport"


def _composio_failure(payload: Any) -> str | None:
    """Composio wraps results as {successful, data, error}; a false `successful` is a failure."""
    if isinstance(payload, Mapping) and payload.get("successful") is False:
        error = payload.get("error")
        return str(error) if error else "tool reported failure"
    return None


def _result_from_mcp(result: mcp_types.CallToolResult) -> ToolResult:
    text = "\n".join(
        block.text for block in result.content if isinstance(block, mcp_types.TextContent)
    )
    structured = result.structured_content
    if structured is None and text.lstrip().startswith(("{", "[")):
        try:
            structured = json.loads(text)
        except json.JSONDecodeError:
            structured = None
    if result.is_error:
        return ToolResult(False, text, structured, "tool_error", text or "tool failed")
    failure = _composio_failure(structured)
    if failure is not None:
        return ToolResult(False, text, structured, "tool_error", failure)
    return ToolResult(True, text, structured)


_Job = tuple[Callable[[ClientSession], Awaitable[Any]], "asyncio.Future[Any]"]


class McpToolbox:
    """Use `async with McpToolbox.connect(url, headers=...) as box:`."""

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        http_client_factory: HttpClientFactory | None = None,
        connect_timeout_s: float = 20.0,
        call_timeout_s: float = 60.0,
    ) -> None:
        self.url = url
        self._headers = {k: v for k, v in (headers or {}).items() if v is not None}
        self._factory = http_client_factory or default_http_client
        self._connect_timeout_s = connect_timeout_s
        self._call_timeout_s = call_timeout_s
        self._jobs: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._owner: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._failure: str | None = None
        self._closing = False
        self._tools: list[ToolSpec] | None = None
        self._last_http_error: str | None = None

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        http_client_factory: HttpClientFactory | None = None,
        connect_timeout_s: float = 20.0,
        call_timeout_s: float = 60.0,
    ) -> AsyncIterator[McpToolbox]:
        """Open the session (raises McpConnectError) and close it on exit."""
        box = cls(
            url,
            headers=headers,
            http_client_factory=http_client_factory,
            connect_timeout_s=connect_timeout_s,
            call_timeout_s=call_timeout_s,
        )
        await box.start()
        try:
            yield box
        finally:
            await box.aclose()

    @property
    def alive(self) -> bool:
        return self._owner is not None and not self._owner.done() and not self._closing

    async def start(self) -> None:
        if self._owner is not None:
            return
        self._ready = asyncio.get_running_loop().create_future()
        self._owner = asyncio.create_task(self._own(), name=f"mcp-session {self.url}")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), self._connect_timeout_s)
        except TimeoutError:
            await self.aclose()
            raise McpConnectError(
                f"MCP server {self.url} did not complete the handshake within "
                f"{self._connect_timeout_s} s"
            ) from None
        except McpConnectError:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Stop the owner task, which closes the session and transport it opened."""
        if self._owner is None or self._closing:
            return
        self._closing = True
        self._jobs.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._owner), 5.0)
        except TimeoutError:
            self._owner.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.gather(self._owner, return_exceptions=True)
        except BaseException:
            pass

    async def _own(self) -> None:
        assert self._ready is not None
        running: set[asyncio.Task[None]] = set()
        try:
            client = self._factory(dict(self._headers))
            client.event_hooks["response"].append(self._note_http_status)
            async with (
                client,
                streamable_http_client(self.url, http_client=client) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                self._ready.set_result(None)
                while True:
                    job = await self._jobs.get()
                    if job is None:
                        break
                    task = asyncio.create_task(self._run(session, *job))
                    running.add(task)
                    task.add_done_callback(running.discard)
                for task in list(running):
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
        except BaseException as exc:
            self._failure = describe_error(exc)
            if self._last_http_error:
                self._failure += f" ({self._last_http_error})"
            if not self._ready.done():
                self._ready.set_exception(
                    McpConnectError(f"cannot open MCP session at {self.url}: {self._failure}")
                )
            elif not self._closing:
                logger.warning("MCP session at %s ended: %s", self.url, self._failure)
            if isinstance(exc, asyncio.CancelledError) and not self._closing:
                raise
        finally:
            for task in list(running):
                task.cancel()
            self._drain(self._failure or "session closed")

    async def _note_http_status(self, response: httpx2.Response) -> None:
        """The SDK reports HTTP failures without their status; keep it for error messages."""
        if response.status_code >= 400:
            self._last_http_error = f"HTTP {response.status_code} from {response.request.url}"

    async def _run(
        self,
        session: ClientSession,
        fn: Callable[[ClientSession], Awaitable[Any]],
        future: asyncio.Future[Any],
    ) -> None:
        try:
            value = await fn(session)
        except asyncio.CancelledError:
            if not future.done():
                future.cancel()
            raise
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(value)

    def _drain(self, reason: str) -> None:
        while not self._jobs.empty():
            job = self._jobs.get_nowait()
            if job is not None and not job[1].done():
                job[1].set_exception(McpToolboxError(reason))

    async def _submit(self, fn: Callable[[ClientSession], Awaitable[Any]], timeout_s: float) -> Any:
        if not self.alive:
            raise McpToolboxError(f"MCP session is closed: {self._failure or 'not open'}")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._jobs.put_nowait((fn, future))
        try:
            return await asyncio.wait_for(future, timeout_s)
        finally:
            if not future.done():
                future.cancel()

    async def list_tools(self, *, refresh: bool = False) -> list[ToolSpec]:
        """All tools the server offers (follows pagination). Raises McpToolboxError."""
        if self._tools is not None and not refresh:
            return list(self._tools)

        async def fetch(session: ClientSession) -> list[ToolSpec]:
            specs: list[ToolSpec] = []
            cursor: str | None = None
            for _ in range(100):
                params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
                page = await session.list_tools(params=params)
                specs += [
                    ToolSpec(t.name, t.description or "", dict(t.input_schema), t.output_schema)
                    for t in page.tools
                ]
                cursor = page.next_cursor
                if not cursor:
                    break
            return specs

        try:
            tools: list[ToolSpec] = await self._submit(fetch, self._call_timeout_s)
        except McpToolboxError:
            raise
        except TimeoutError:
            raise McpToolboxError(f"listing tools at {self.url} timed out") from None
        except Exception as exc:
            raise McpToolboxError(
                f"listing tools at {self.url} failed: {describe_error(exc)}"
            ) from exc
        self._tools = tools
        return list(tools)

    async def tool_names(self) -> set[str]:
        return {spec.name for spec in await self.list_tools()}

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> ToolResult:
        """Call one tool; failures come back as a ToolResult with `error_kind` set."""
        limit = timeout if timeout is not None else self._call_timeout_s
        args = dict(arguments or {})

        async def call(session: ClientSession) -> mcp_types.CallToolResult:
            return await session.call_tool(name, args)

        try:
            result: mcp_types.CallToolResult = await self._submit(call, limit)
        except TimeoutError:
            return ToolResult.failure("timeout", f"{name} did not answer within {limit} s")
        except McpToolboxError as exc:
            return ToolResult.failure("transport", str(exc))
        except Exception as exc:
            return ToolResult.failure(_error_kind(exc), f"{name}: {describe_error(exc)}")
        return _result_from_mcp(result)

    async def call_via_meta_tool(
        self,
        slug: str,
        arguments: Mapping[str, Any],
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> ToolResult:
        """Run an app tool through COMPOSIO_MULTI_EXECUTE_TOOL and unwrap its single result."""
        outer = await self.call_tool(
            META_MULTI_EXECUTE,
            {
                "tools": [{"tool_slug": slug, "arguments": dict(arguments)}],
                "sync_response_to_workbench": False,
                "thought": f"Deliver a Tracer alert with {slug}.",
            },
            timeout=timeout,
        )
        if outer.error_kind in ("timeout", "transport", "protocol"):
            return outer
        return unwrap_multi_execute(outer, slug)

    async def call_app_tool(
        self,
        call: ToolCall,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-call deadline for the owner task
    ) -> ToolResult:
        """Call `call.slug` directly when listed, else through the multi-execute meta tool."""
        try:
            names = await self.tool_names()
        except McpToolboxError as exc:
            return ToolResult.failure("transport", str(exc))
        if call.slug in names:
            return await self.call_tool(call.slug, call.arguments, timeout=timeout)
        if META_MULTI_EXECUTE in names:
            return await self.call_via_meta_tool(call.slug, call.arguments, timeout=timeout)
        return ToolResult.failure(
            "protocol", f"{call.slug} is not offered by the MCP server at {self.url}"
        )


def unwrap_multi_execute(outer: ToolResult, slug: str) -> ToolResult:
    """The first result of a COMPOSIO_MULTI_EXECUTE_TOOL answer as a ToolResult of its own."""
    payload = outer.structured
    data = payload.get("data") if isinstance(payload, Mapping) else None
    results = data.get("results") if isinstance(data, Mapping) else None
    if not isinstance(results, list) or not results or not isinstance(results[0], Mapping):
        if not outer.ok:
            return outer
        return ToolResult.failure(
            "protocol", f"{META_MULTI_EXECUTE} answer has no results", text=outer.text
        )
    first = results[0]
    if first.get("error"):
        return ToolResult(
            False, json.dumps(first, default=str), first, "tool_error", str(first["error"])
        )
    response = first.get("response")
    failure = _composio_failure(response)
    text = json.dumps(response, default=str)
    if failure is not None:
        return ToolResult(False, text, response, "tool_error", f"{slug}: {failure}")
    return ToolResult(True, text, response)
