"""A real MCP server (mcp 2.x `MCPServer`, streamable HTTP) on a loopback port.

`serve_mcp(server)` runs the server's Starlette app under uvicorn in a thread with its own
event loop, on a socket bound to 127.0.0.1 port 0, and yields the endpoint URL. The server's
DNS-rebinding protection stays on: it allows the ``127.0.0.1:<port>`` Host header that
clients of this URL send, and answers 421 to any other.

`demo_server()` is a server with a working (`echo`), a failing (`explode`) and a slow
(`slow`) tool; `composio_like_server()` offers only Composio-style meta tools, with a
`COMPOSIO_MULTI_EXECUTE_TOOL` that runs a few fake app tools, for the meta-tool fallback.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from tests.support import wait_until


@contextmanager
def serve_mcp(server: MCPServer, *, path: str = "/mcp") -> Iterator[str]:
    """Serve `server` on 127.0.0.1 and yield its MCP endpoint URL; stop it on exit."""
    app = server.streamable_http_app(streamable_http_path=path, host="127.0.0.1")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        loop="asyncio",
        timeout_graceful_shutdown=2,
    )
    runner = uvicorn.Server(config)
    thread = threading.Thread(
        target=runner.run, kwargs={"sockets": [sock]}, name=f"mcp-server-{port}", daemon=True
    )
    thread.start()
    try:
        wait_until(lambda: runner.started or not thread.is_alive(), timeout=15)
        if not runner.started:
            raise RuntimeError("MCP test server did not start")
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        runner.should_exit = True
        thread.join(timeout=10)
        sock.close()


class SlowToolGate:
    """Lets a test release the `slow` tool instead of waiting for it to time out."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()


def demo_server(gate: SlowToolGate | None = None) -> MCPServer:
    gate = gate or SlowToolGate()
    server = MCPServer("tracer-test")

    @server.tool(description="Echo the text back, with its length.")
    def echo(text: str) -> dict[str, Any]:
        return {"text": text, "length": len(text)}

    @server.tool(description="Always fails.")
    def explode(reason: str = "boom") -> str:
        raise ToolError(f"exploded: {reason}")

    @server.tool(description="Waits until the test releases it (or 30 s).")
    async def slow() -> str:
        gate.entered.set()
        await anyio.to_thread.run_sync(gate.release.wait, 30, abandon_on_cancel=True)
        return "finally"

    return server


def composio_like_server(calls: list[dict[str, Any]] | None = None) -> MCPServer:
    """Meta tools only; COMPOSIO_MULTI_EXECUTE_TOOL answers like Composio's."""
    seen = calls if calls is not None else []
    server = MCPServer("composio-like")

    @server.tool(name="COMPOSIO_SEARCH_TOOLS", description="Search tools.")
    def search_tools(queries: list[dict[str, Any]]) -> dict[str, Any]:
        return {"successful": True, "data": {"results": []}, "error": None}

    @server.tool(name="COMPOSIO_MULTI_EXECUTE_TOOL", description="Execute tools in parallel.")
    def multi_execute(
        tools: list[dict[str, Any]], sync_response_to_workbench: bool, thought: str = ""
    ) -> dict[str, Any]:
        results: list[dict[str, Any]] = []
        for index, item in enumerate(tools):
            seen.append(item)
            slug = item.get("tool_slug")
            if slug == "SLACK_SEND_MESSAGE":
                response = {
                    "successful": True,
                    "data": {
                        "ok": True,
                        "channel": item["arguments"].get("channel"),
                        "ts": "1700.0001",
                    },
                    "error": None,
                }
                results.append({"index": index, "tool_slug": slug, "response": response})
            elif slug == "JIRA_CREATE_ISSUE":
                response = {"successful": False, "data": {}, "error": "project does not exist"}
                results.append({"index": index, "tool_slug": slug, "response": response})
            else:
                results.append({"index": index, "tool_slug": slug, "error": f"unknown tool {slug}"})
        errors = sum(1 for r in results if r.get("error") or not r["response"]["successful"])
        return {
            "successful": errors == 0,
            "data": {
                "results": results,
                "error_count": errors,
                "success_count": len(results) - errors,
            },
            "error": None,
        }

    return server
