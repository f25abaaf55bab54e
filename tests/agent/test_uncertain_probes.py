"""A crash probe whose answer cannot be read (another result shape, an answer the tool
router offloaded) leaves the outcome uncertain: the delivery is retried with backoff and
ends as a dead letter naming the reason; the message is never posted a second time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
from mcp.server.mcpserver import MCPServer

from tests.agent.helpers import agent_settings, eventually, open_alert, run_agent
from tests.fakes.mcp_server import serve_mcp
from tracer_agent.delivery.journal import DeliveryJournal
from tracer_agent.delivery.store import DeliveryStore
from tracer_agent.routing import load_rules
from tracer_ai.destinations.base import marker_for

ROUTING = """
[[destinations]]
name = "chat"
toolkit = "slack"
channel = "#incidents"

[[rules]]
send_to = ["chat"]
"""


class OffloadingSlack:
    """Has the message the dead worker sent; answers history with an offloaded file."""

    def __init__(self) -> None:
        self.posted: list[str] = []
        self.history_calls = 0

    def server(self) -> MCPServer:
        server = MCPServer("offloading-slack")

        @server.tool(name="SLACK_SEND_MESSAGE")
        def send(channel: str, markdown_text: str, thread_ts: str | None = None) -> dict[str, Any]:
            self.posted.append(markdown_text)
            data = {"ok": True, "channel": "C0INCIDENT", "ts": "1700000000.000200"}
            return {"successful": True, "data": data, "error": None}

        @server.tool(name="SLACK_FETCH_CONVERSATION_HISTORY")
        def history(channel: str, oldest: str | None = None, limit: int = 100) -> dict[str, Any]:
            self.history_calls += 1
            offloaded = {"file": "/mnt/files/history.json", "note": "output too large"}
            return {"successful": True, "data": offloaded, "error": None}

        return server


async def _dead(pool: asyncpg.Pool) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT status, attempts, last_error FROM deliveries")
    return dict(row) if row is not None and row["status"] == "dead" else None


async def test_an_unreadable_probe_answer_is_a_dead_letter_not_a_second_post(
    database_url: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    routing = tmp_path / "routing.toml"
    routing.write_text(ROUTING)
    await open_alert(pool, severity="high")
    store = DeliveryStore(pool)
    await store.expand_events(load_rules(routing))
    [claimed] = await store.claim(worker="agent-dead-1", limit=1, lease_seconds=60)
    await DeliveryJournal(pool).start_attempt(
        delivery_id=claimed.id, step="post", marker=marker_for(claimed.id, "post"),
        tool="SLACK_SEND_MESSAGE", worker="agent-dead-1",
    )  # fmt: skip
    await pool.execute("UPDATE deliveries SET next_attempt_at = now() - interval '1 s'")
    slack = OffloadingSlack()
    with serve_mcp(slack.server()) as url:
        settings = agent_settings(
            database_url, routing_file=routing, sink_url=url, delivery_max_attempts=3
        )
        async with run_agent(settings):
            dead = await eventually(lambda: _dead(pool))
    assert slack.posted == [], "an uncertain post is not sent again"
    assert slack.history_calls == 2  # the dead worker's attempt counted as the first
    assert "uncertain whether step post arrived" in dead["last_error"]
    assert "answer unreadable" in dead["last_error"]
    assert "no messages list" in dead["last_error"]
