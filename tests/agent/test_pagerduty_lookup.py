"""PagerDuty for real: the REST create refuses a second incident with an open key, so after a
create whose answer was lost the next worker looks the incident up by its key instead of
creating it again; the incident found is the one the resolution later resolves by id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg

from tests.agent.helpers import add_event, agent_settings, eventually, open_alert, run_agent
from tracer_agent.delivery.journal import DeliveryJournal
from tracer_agent.delivery.store import DeliveryStore
from tracer_agent.routing import load_rules
from tracer_agent.sink.tickets import TicketSinkStore
from tracer_ai.destinations.base import marker_for

ROUTING = """
[[destinations]]
name = "pager"
toolkit = "pagerduty"
service_id = "PSVC01"

[[rules]]
send_to = ["pager"]
"""


async def _all_delivered(pool: asyncpg.Pool, count: int) -> list[dict[str, Any]] | None:
    rows = [dict(r) for r in await pool.fetch(
        "SELECT id, status, attempts, result FROM deliveries ORDER BY id")]  # fmt: skip
    done = len(rows) == count and all(r["status"] == "delivered" for r in rows)
    return rows if done else None


async def test_a_lost_create_is_looked_up_by_key_then_resolved_by_id(
    database_url: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    routing = tmp_path / "routing.toml"
    routing.write_text(ROUTING)
    alert_id, _ = await open_alert(pool, severity="critical")
    fingerprint = await pool.fetchval("SELECT fingerprint FROM alerts WHERE id = $1", alert_id)
    store = DeliveryStore(pool)
    await store.expand_events(load_rules(routing))
    [claimed] = await store.claim(worker="agent-dead-1", limit=1, lease_seconds=60)
    await DeliveryJournal(pool).start_attempt(
        delivery_id=claimed.id, step="trigger", marker=marker_for(claimed.id, "trigger"),
        tool="PAGERDUTY_CREATE_INCIDENT_RECORD", worker="agent-dead-1",
    )  # fmt: skip
    # PagerDuty opened the incident; the answer never came back.
    created = await TicketSinkStore(pool).pagerduty_trigger(
        service_id="PSVC01", title="[critical] Error spike", urgency="high",
        dedup_key=fingerprint, arguments={},
    )  # fmt: skip
    incident_id = created["incident"]["id"]
    await pool.execute("UPDATE deliveries SET next_attempt_at = now() - interval '1 s'")

    async with run_agent(agent_settings(database_url, routing_file=routing)):
        [opened] = await eventually(lambda: _all_delivered(pool, 1))
        await add_event(pool, alert_id, "resolved", "critical")
        delivered = await eventually(lambda: _all_delivered(pool, 2))

    assert opened["result"]["incident_id"] == incident_id
    assert opened["result"]["steps"]["trigger"]["found"] is True
    creates = await pool.fetchval(
        "SELECT count(*) FROM sink_pagerduty_incidents WHERE dedup_key = $1", fingerprint
    )
    assert creates == 1, "one incident"
    assert delivered[1]["result"]["incident_id"] == incident_id
    status = await pool.fetchval(
        "SELECT status FROM sink_pagerduty_incidents WHERE incident_id = $1", incident_id
    )
    assert status == "resolved"
