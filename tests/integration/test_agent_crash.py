"""An agent killed with SIGKILL in the middle of a delivery: after a restart the delivery
completes, and the destination holds the message exactly once.

The destination is a real MCP server on loopback whose SLACK_SEND_MESSAGE holds the call
until the test releases it. Two fates of the killed call are covered: it reached Slack (the
restarted agent must find it by its marker and not post again) and it never arrived (the
restarted agent must post it). The lease is run out through the database instead of waiting
for it, which is what the passage of `TRACER_DELIVERY_LEASE_SECONDS` does.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import httpx
import pytest
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from tests.agent.helpers import open_alert
from tests.fakes.mcp_server import serve_mcp
from tests.support import eventually, free_port, wait_until


class HeldSlack:
    """A Slack-shaped MCP server whose first post waits for the test's word."""

    def __init__(self, *, first_call_arrives: bool) -> None:
        self.first_call_arrives = first_call_arrives
        self.messages: list[dict[str, Any]] = []
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def server(self) -> MCPServer:
        server = MCPServer("held-slack")

        @server.tool(name="SLACK_SEND_MESSAGE")
        async def send(channel: str, text: str, thread_ts: str | None = None) -> dict[str, Any]:
            with self._lock:
                self.calls += 1
                first = self.calls == 1
                arrives = self.first_call_arrives or not first
                ts = f"1700000000.{len(self.messages) + 1:06d}"
                if arrives:  # Slack has the message; only its answer may get lost
                    self.messages.append({"channel": channel, "text": text, "ts": ts})
            if first:
                self.entered.set()
                await anyio.to_thread.run_sync(self.release.wait, 60, abandon_on_cancel=True)
            if not arrives:
                raise ToolError("connection reset before Slack saw the message")
            data = {"ok": True, "channel": "C0INCIDENT", "ts": ts}
            return {"successful": True, "data": data, "error": None}

        @server.tool(name="SLACK_FETCH_CONVERSATION_HISTORY")
        def history(channel: str, oldest: str | None = None, limit: int = 100) -> dict[str, Any]:
            with self._lock:
                found = [dict(m) for m in reversed(self.messages)][:limit]
            return {"successful": True, "data": {"ok": True, "messages": found}, "error": None}

        return server


@contextmanager
def agent_process(
    database_url: str, sink_url: str, home: Path
) -> Iterator[subprocess.Popen[bytes]]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TRACER_HOME": str(home),
        "TRACER_SINK_URL": sink_url,
        "TRACER_DELIVERY_POLL_SECONDS": "0.2",
        "TRACER_TOOL_CALL_TIMEOUT_SECONDS": "20",
        "TRACER_DELIVERY_LEASE_SECONDS": "60",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tracer", "agent", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"agent exited with {process.returncode}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, timeout=60)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _delivery(pool: asyncpg.Pool) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT id, status, attempts, result FROM deliveries")
    return None if row is None else dict(row)


@pytest.mark.parametrize("first_call_arrives", [True, False], ids=["arrived", "lost"])
async def test_killed_agent_delivery_completes_exactly_once(
    first_call_arrives: bool, database_url: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    slack = HeldSlack(first_call_arrives=first_call_arrives)
    with serve_mcp(slack.server()) as sink_url:
        with agent_process(database_url, sink_url, tmp_path) as first:
            await open_alert(pool, severity="medium")  # medium: Slack only
            await asyncio.to_thread(slack.entered.wait, 30)
            assert slack.entered.is_set()
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        slack.release.set()
        held = await _delivery(pool)
        assert held is not None
        assert held["status"] == "in_progress"
        open_calls = await pool.fetchval(
            "SELECT count(*) FROM delivery_attempts WHERE finished_at IS NULL"
        )
        assert open_calls == 1
        # The dead agent's lease runs out.
        await pool.execute(
            "UPDATE deliveries SET lease_expires_at = now() - interval '1 second', "
            "next_attempt_at = now() - interval '1 second'"
        )
        with agent_process(database_url, sink_url, tmp_path):

            async def delivered() -> dict[str, Any] | None:
                found = await _delivery(pool)
                return found if found and found["status"] == "delivered" else None

            done = await eventually(delivered, within=30)

    assert len(slack.messages) == 1
    assert done["attempts"] == 2
    assert done["result"]["ts"] == slack.messages[0]["ts"]
    assert f"Tracer ref d{done['id']}-post" in slack.messages[0]["text"]
    outcomes = [r["outcome"] for r in await pool.fetch(
        "SELECT outcome FROM delivery_attempts ORDER BY id")]  # fmt: skip
    if first_call_arrives:
        assert outcomes == ["found"]
        assert done["result"]["steps"]["post"].get("found") is True
        assert slack.calls == 1
    else:
        assert outcomes == ["not_found", "sent"]
        assert slack.calls == 2
