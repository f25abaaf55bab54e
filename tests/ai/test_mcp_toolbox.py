"""McpToolbox against a real MCP server over streamable HTTP on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests.fakes.mcp_server import SlowToolGate, composio_like_server, demo_server, serve_mcp
from tracer_ai.errors import McpConnectError
from tracer_ai.mcp_toolbox import McpToolbox
from tracer_ai.tool_call import ToolCall


@pytest.fixture
def gate() -> SlowToolGate:
    return SlowToolGate()


@pytest.fixture
def demo_url(gate: SlowToolGate) -> Iterator[str]:
    with serve_mcp(demo_server(gate)) as url:
        yield url
    gate.release.set()


async def test_lists_tools_with_their_schemas(demo_url: str) -> None:
    async with McpToolbox.connect(demo_url) as box:
        tools = {spec.name: spec for spec in await box.list_tools()}
    assert set(tools) == {"echo", "explode", "slow"}
    assert tools["echo"].input_schema["properties"]["text"]["type"] == "string"
    assert tools["echo"].input_schema["required"] == ["text"]
    assert "Echo" in tools["echo"].description


async def test_working_tool_returns_text_and_structured_content(demo_url: str) -> None:
    async with McpToolbox.connect(demo_url) as box:
        result = await box.call_tool("echo", {"text": "hello"})
    assert result.ok
    assert result.error_kind is None
    assert result.structured == {"text": "hello", "length": 5}
    assert "hello" in result.text


async def test_failing_tool_is_a_tool_error_not_an_exception(demo_url: str) -> None:
    async with McpToolbox.connect(demo_url) as box:
        result = await box.call_tool("explode", {"reason": "disk full"})
        after = await box.call_tool("echo", {"text": "still here"})
    assert not result.ok
    assert result.error_kind == "tool_error"
    assert "disk full" in (result.error or "")
    assert after.ok


async def test_slow_tool_times_out_and_session_keeps_working(
    demo_url: str, gate: SlowToolGate
) -> None:
    async with McpToolbox.connect(demo_url) as box:
        result = await box.call_tool("slow", {}, timeout=0.3)
        assert gate.entered.is_set()
        after = await box.call_tool("echo", {"text": "next"})
    assert not result.ok
    assert result.error_kind == "timeout"
    assert after.ok
    assert after.structured == {"text": "next", "length": 4}


async def test_slow_tool_answers_when_released(demo_url: str, gate: SlowToolGate) -> None:
    async with McpToolbox.connect(demo_url) as box:
        pending = asyncio.create_task(box.call_tool("slow", {}, timeout=10))
        assert await asyncio.to_thread(gate.entered.wait, 10)
        quick = await box.call_tool("echo", {"text": "concurrent"})
        gate.release.set()
        slow = await pending
    assert quick.ok, "a slow call must not block other calls on the same session"
    assert slow.ok
    assert slow.text == "finally"


async def test_unknown_tool_is_reported(demo_url: str) -> None:
    async with McpToolbox.connect(demo_url) as box:
        result = await box.call_tool("no_such_tool", {})
    assert not result.ok
    assert result.error_kind in ("tool_error", "protocol")
    assert "no_such_tool" in (result.error or "")


async def test_connection_refused_is_a_typed_connect_error() -> None:
    with serve_mcp(demo_server()) as url:
        pass  # the server is gone: nothing listens on that port any more
    with pytest.raises(McpConnectError):
        async with McpToolbox.connect(url, connect_timeout_s=5):
            pass


async def test_wrong_host_header_is_refused_by_dns_rebinding_protection(demo_url: str) -> None:
    def factory(headers: dict[str, str]) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(headers={**headers, "Host": "evil.example"}, timeout=5)

    with pytest.raises(McpConnectError, match="421"):
        async with McpToolbox.connect(demo_url, http_client_factory=factory, connect_timeout_s=5):
            pass


async def test_headers_reach_the_server(demo_url: str) -> None:
    seen: list[dict[str, str]] = []

    def factory(headers: dict[str, str]) -> httpx2.AsyncClient:
        seen.append(headers)
        return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(10, read=60))

    async with McpToolbox.connect(
        demo_url, headers={"x-api-key": "k1"}, http_client_factory=factory
    ) as box:
        assert (await box.call_tool("echo", {"text": "x"})).ok
    assert seen == [{"x-api-key": "k1"}]


async def test_calls_after_close_are_transport_errors(demo_url: str) -> None:
    async with McpToolbox.connect(demo_url) as box:
        pass
    result = await box.call_tool("echo", {"text": "late"})
    assert result.error_kind == "transport"
    assert not box.alive


async def test_server_going_away_mid_session_is_a_transport_error(gate: SlowToolGate) -> None:
    with serve_mcp(demo_server(gate)) as url:
        box = McpToolbox(url, connect_timeout_s=5, call_timeout_s=5)
        await box.start()
        assert (await box.call_tool("echo", {"text": "up"})).ok
    try:
        result = await box.call_tool("echo", {"text": "down"})
        assert not result.ok
        assert result.error_kind in ("transport", "timeout")
    finally:
        await box.aclose()


@pytest.fixture
def meta_calls() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def meta_url(meta_calls: list[dict[str, Any]]) -> Iterator[str]:
    with serve_mcp(composio_like_server(meta_calls)) as url:
        yield url


async def test_app_tool_runs_through_multi_execute_when_only_meta_tools_are_listed(
    meta_url: str, meta_calls: list[dict[str, Any]]
) -> None:
    call = ToolCall("SLACK_SEND_MESSAGE", {"channel": "#ops", "text": "hi"})
    async with McpToolbox.connect(meta_url) as box:
        result = await box.call_app_tool(call)
    assert result.ok, result.error
    assert result.structured["data"]["ts"] == "1700.0001"
    assert meta_calls == [
        {"tool_slug": "SLACK_SEND_MESSAGE", "arguments": {"channel": "#ops", "text": "hi"}}
    ]


async def test_meta_tool_failures_are_unwrapped(meta_url: str) -> None:
    async with McpToolbox.connect(meta_url) as box:
        failed = await box.call_app_tool(ToolCall("JIRA_CREATE_ISSUE", {"project_key": "NOPE"}))
        unknown = await box.call_app_tool(ToolCall("GMAIL_SEND_EMAIL", {}))
    assert failed.error_kind == "tool_error"
    assert "project does not exist" in (failed.error or "")
    assert unknown.error_kind == "tool_error"
    assert "unknown tool" in (unknown.error or "")


async def test_tool_not_offered_at_all_is_a_protocol_error(demo_url: str) -> None:
    async with McpToolbox.connect(demo_url) as box:
        result = await box.call_app_tool(ToolCall("SLACK_SEND_MESSAGE", {}))
    assert result.error_kind == "protocol"
    assert "not offered" in (result.error or "")
