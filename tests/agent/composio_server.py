"""Composio on loopback: the fake Composio REST API (tests.fakes.composio_backend) and a real
MCP server for its tool-router sessions, served from one origin as the composio SDK requires.

The session's MCP server behaves like Composio's: the preloaded alert tools are listed
directly; every other app tool is reached through COMPOSIO_MULTI_EXECUTE_TOOL. The app tools
themselves are the local sink's, so what a session "posts" lands in the test database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import respx
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.agent.helpers import loopback_socket, serve_app
from tests.fakes.composio_backend import FakeComposio
from tracer_agent.sink.recorded import recorded_tools
from tracer_agent.sink.server import sink_tools
from tracer_agent.sink.store import SinkStore
from tracer_agent.sink.tickets import TicketSinkStore
from tracer_ai.destinations import routing_tools


@dataclass
class ComposioOnLoopback:
    base_url: str
    fake: FakeComposio
    meta_calls: list[dict[str, Any]] = field(default_factory=list)
    mcp_requests: int = 0


def session_server(
    tools: dict[str, Callable[..., Any]],
    meta_calls: list[dict[str, Any]],
    schema_overrides: Mapping[str, dict[str, Any]] | None = None,
) -> MCPServer[Any]:
    """`schema_overrides` replaces listed input schemas, as a Composio schema change would."""
    apps: MCPServer[Any] = MCPServer("apps", tools=recorded_tools(tools))
    preloaded = recorded_tools({name: tools[name] for name in sorted(set(routing_tools()))})
    for tool in preloaded:
        if schema_overrides and tool.name in schema_overrides:
            tool.parameters = schema_overrides[tool.name]
    server: MCPServer[Any] = MCPServer("composio-session", tools=preloaded)

    async def multi_execute(
        tools: list[dict[str, Any]], sync_response_to_workbench: bool = False, thought: str = ""
    ) -> dict[str, Any]:
        """Execute app tools given as {tool_slug, arguments}."""
        results: list[dict[str, Any]] = []
        for index, item in enumerate(tools):
            meta_calls.append(item)
            slug = str(item.get("tool_slug"))
            try:
                answer = await apps.call_tool(slug, dict(item.get("arguments") or {}))
            except ToolError as exc:
                results.append({"index": index, "tool_slug": slug, "error": str(exc)})
                continue
            response = getattr(answer, "structured_content", None)
            results.append({"index": index, "tool_slug": slug, "response": response})
        failed = sum(1 for r in results if "error" in r)
        return {
            "successful": failed == 0,
            "data": {"results": results, "error_count": failed},
            "error": None,
        }

    server.add_tool(multi_execute, name="COMPOSIO_MULTI_EXECUTE_TOOL")
    return server


@asynccontextmanager
async def composio_on_loopback(
    pool: asyncpg.Pool, *, schema_overrides: Mapping[str, dict[str, Any]] | None = None
) -> AsyncIterator[ComposioOnLoopback]:
    sock, port = loopback_socket()
    base_url = f"http://127.0.0.1:{port}"
    fake = FakeComposio(respx.MockRouter(assert_all_mocked=True), base_url=base_url)
    state = ComposioOnLoopback(base_url=base_url, fake=fake)
    mcp = session_server(
        sink_tools(SinkStore(pool), TicketSinkStore(pool)), state.meta_calls, schema_overrides
    )
    mcp.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(
            allowed_hosts=[f"127.0.0.1:{port}"], allowed_origins=[base_url]
        ),
    )

    async def rest(request: Request) -> Response:
        forwarded = httpx.Request(
            request.method, str(request.url), headers=request.headers.raw,
            content=await request.body(),
        )  # fmt: skip
        answer = await fake.router.async_handler(forwarded)
        content_type = answer.headers.get("content-type", "application/json")
        return Response(answer.content, answer.status_code, media_type=content_type)

    class SessionMcp:
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            state.mcp_requests += 1
            await mcp.session_manager.asgi_app(scope, receive, send)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            yield

    app = Starlette(
        routes=[
            Route("/tool_router/{sid}/mcp", SessionMcp(), methods=["GET", "POST", "DELETE"]),
            Route("/{path:path}", rest, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ],
        lifespan=lifespan,
    )
    async with serve_app(app, sock):
        yield state
