"""The crash window on every searchable destination: a worker recorded its attempt, the
destination got the call, and the worker died before recording the answer. The next worker
finds the call by its marker in the local sink and records it instead of sending again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.agent.helpers import agent_settings, open_alert, run_agent
from tests.support import eventually
from tracer_agent.delivery.journal import DeliveryJournal
from tracer_agent.delivery.store import DeliveryStore
from tracer_agent.routing import load_rules
from tracer_agent.sink.store import SinkStore
from tracer_agent.sink.tickets import TicketSinkStore
from tracer_ai.destinations.base import marker_for, reference_note

ROUTING = """
[[destinations]]
name = "tickets"
toolkit = "jira"
project_key = "OPS"

[[destinations]]
name = "mail"
toolkit = "gmail"
recipients = ["oncall@example.com"]

[[destinations]]
name = "chat"
toolkit = "slack"
channel = "#incidents"

[[rules]]
send_to = ["{destination}"]
"""

STEP = {"tickets": ("create", "JIRA_CREATE_ISSUE"), "mail": ("send", "GMAIL_SEND_EMAIL"),
        "chat": ("post", "SLACK_SEND_MESSAGE")}  # fmt: skip


async def _delivered(pool: asyncpg.Pool) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT id, status, attempts, result FROM deliveries")
    return dict(row) if row is not None and row["status"] == "delivered" else None


@pytest.mark.parametrize("destination", ["tickets", "mail", "chat"])
async def test_a_lost_answer_is_found_not_resent(
    destination: str, database_url: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    routing = tmp_path / "routing.toml"
    routing.write_text(ROUTING.replace("{destination}", destination))
    rules = load_rules(routing)
    await open_alert(pool, severity="high")
    store = DeliveryStore(pool)
    await store.expand_events(rules)
    [claimed] = await store.claim(worker="agent-dead-1", limit=1, lease_seconds=60)
    step, tool = STEP[destination]
    marker = marker_for(claimed.id, step)
    await DeliveryJournal(pool).start_attempt(
        delivery_id=claimed.id, step=step, marker=marker, tool=tool, worker="agent-dead-1"
    )
    # The destination received the call (carrying its marker); the answer never came back.
    if destination == "tickets":
        await TicketSinkStore(pool).jira_create(
            project_key="OPS", summary="[high] Error spike on checkout",
            labels=["tracer", marker], arguments={},
        )  # fmt: skip
    elif destination == "mail":
        await SinkStore(pool).gmail_send(
            recipients=["oncall@example.com"], subject="[Tracer] New alert",
            arguments={"body": f"<p>...</p><p><small>{reference_note(marker)}</small></p>"},
        )  # fmt: skip
    else:
        await SinkStore(pool).slack_post(
            channel="#incidents",
            text=f"New alert\n_{reference_note(marker)}_",
            thread_ts=None,
            arguments={},
        )
    await pool.execute("UPDATE deliveries SET next_attempt_at = now() - interval '1 s'")

    async with run_agent(agent_settings(database_url, routing_file=routing)):
        done = await eventually(lambda: _delivered(pool))

    assert await pool.fetchval("SELECT count(*) FROM sink_messages WHERE tool = $1", tool) == 1
    assert done["result"]["steps"][step]["found"] is True
    assert done["attempts"] == 2
    thread = await pool.fetchval("SELECT thread_ref FROM delivery_threads")
    assert thread == done["result"]["thread_ref"]
    outcome = await pool.fetchval("SELECT outcome FROM delivery_attempts")
    assert outcome == "found"
