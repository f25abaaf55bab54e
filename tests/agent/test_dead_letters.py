"""Retries, dead letters and the retry API: a destination that keeps failing exhausts the
delivery's attempts (with backoff between them), the dead letter is listed, and an admin's
retry sends it once the destination works again."""

from __future__ import annotations

import threading
from typing import Any

import asyncpg
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from tests.agent.helpers import agent_settings, new_key, open_alert, run_agent
from tests.fakes.mcp_server import serve_mcp
from tests.support import eventually
from tracer_core.models import Role


class FlakySlack:
    def __init__(self) -> None:
        self.healthy = threading.Event()
        self.calls = 0
        self.posted: list[str] = []

    def server(self) -> MCPServer:
        server = MCPServer("flaky-slack")

        @server.tool(name="SLACK_SEND_MESSAGE")
        def send(channel: str, markdown_text: str, thread_ts: str | None = None) -> dict[str, Any]:
            self.calls += 1
            if not self.healthy.is_set():
                raise ToolError("channel_not_found")
            self.posted.append(markdown_text)
            data = {"ok": True, "channel": "C1", "ts": f"1700000000.{len(self.posted):06d}"}
            return {"successful": True, "data": data, "error": None}

        return server


async def _status(pool: asyncpg.Pool, wanted: str) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT id, status, attempts, last_error FROM deliveries")
    return dict(row) if row is not None and row["status"] == wanted else None


async def test_dead_letter_is_listed_and_retried_by_an_admin(
    database_url: str, pool: asyncpg.Pool
) -> None:
    slack = FlakySlack()
    admin = await new_key(pool, Role.ADMIN)
    engineer = await new_key(pool, Role.ENGINEER)
    with serve_mcp(slack.server()) as url:
        settings = agent_settings(database_url, sink_url=url, delivery_max_attempts=3)
        async with run_agent(settings) as agent:
            alert_id, _ = await open_alert(pool, severity="medium")
            dead = await eventually(lambda: _status(pool, "dead"))
            assert dead["attempts"] == 3
            assert slack.calls == 3
            assert "channel_not_found" in dead["last_error"]

            listed = await agent.client(engineer).get("/api/deliveries", params={"status": "dead"})
            assert [d["id"] for d in listed.json()] == [dead["id"]]
            history = await agent.client(engineer).get(f"/api/alerts/{alert_id}/deliveries")
            assert history.json()[0]["status"] == "dead"
            missing = await agent.client(engineer).get("/api/alerts/999999/deliveries")
            assert missing.status_code == 404

            slack.healthy.set()
            retried = await agent.client(admin).post(f"/api/deliveries/{dead['id']}/retry")
            assert retried.status_code == 200
            assert retried.json()["status"] == "pending"
            delivered = await eventually(lambda: _status(pool, "delivered"))
            again = await agent.client(admin).post(f"/api/deliveries/{dead['id']}/retry")
            assert again.status_code == 409
    assert delivered["attempts"] == 1
    assert len(slack.posted) == 1
    outcomes = [r["outcome"] for r in await pool.fetch(
        "SELECT outcome FROM delivery_attempts ORDER BY id")]  # fmt: skip
    assert outcomes == ["failed", "failed", "failed", "sent"]
