"""Open MCP sessions to users' tool-router sessions, kept and reused across deliveries.

Opening an MCP session costs a handshake (and, with Composio, a session request), so the
agent keeps one `McpToolbox` per tool-router session and reopens it when it has died or the
router hands out a new session (connections changed, session expired). All of them close when
the agent stops.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from tracer_ai.mcp_toolbox import HttpClientFactory, McpToolbox
from tracer_ai.tool_router import ToolRouter, ToolSession

log = logging.getLogger(__name__)


@dataclass
class _Open:
    session: ToolSession
    box: McpToolbox


class Toolboxes:
    def __init__(
        self,
        router: ToolRouter,
        *,
        call_timeout_s: float,
        http_client_factory: HttpClientFactory | None = None,
    ) -> None:
        self.router = router
        self._call_timeout_s = call_timeout_s
        self._factory = http_client_factory
        self._open: dict[str, _Open] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def for_user(self, user_id: str, *, chat: bool = False) -> McpToolbox:
        """A live toolbox on `user_id`'s session (the locked-down chat session with `chat`).
        Raises ToolRouterError / McpConnectError."""
        key = f"{user_id}\x00chat" if chat else user_id
        async with self._locks.setdefault(key, asyncio.Lock()):
            session = await self.router.session(user_id, chat=chat)
            current = self._open.get(key)
            if current is not None and current.box.alive and _same(current.session, session):
                return current.box
            if current is not None:
                await current.box.aclose()
                del self._open[key]
            box = McpToolbox(
                session.mcp_url,
                headers=session.headers,
                http_client_factory=self._factory,
                call_timeout_s=self._call_timeout_s,
            )
            await box.start()
            self._open[key] = _Open(session, box)
            log.info("opened an MCP session for %s at %s", user_id, _redact(session.mcp_url))
            return box

    async def reset(self, user_id: str) -> None:
        """Drop the user's session (after a transport failure) so the next use reopens it."""
        self.router.invalidate(user_id)
        for key in (user_id, f"{user_id}\x00chat"):
            async with self._locks.setdefault(key, asyncio.Lock()):
                current = self._open.pop(key, None)
            if current is not None:
                await current.box.aclose()

    async def aclose(self) -> None:
        opened = list(self._open.values())
        self._open.clear()
        await asyncio.gather(*(o.box.aclose() for o in opened), return_exceptions=True)


def _same(a: ToolSession, b: ToolSession) -> bool:
    return a.mcp_url == b.mcp_url and a.headers == b.headers and a.session_id == b.session_id


def _redact(url: str) -> str:
    """Session URLs can carry credentials in the query; logs get the path only."""
    return url.split("?", 1)[0]
