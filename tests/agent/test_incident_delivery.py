"""Incidents end to end through the delivery worker and the local sink: one outage is one
thread per destination, inhibited alerts stay quiet, silences hold alerts back and release
them once, and an incident resolved by hand stays quiet until the service is healthy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from tests.agent.helpers import (
    add_event,
    agent_settings,
    eventually,
    new_key,
    open_alert,
    run_agent,
    settled,
    sink_messages,
)
from tracer_agent.delivery.store import DeliveryStore
from tracer_agent.routing import default_rules
from tracer_core.models import Role


async def test_one_outage_is_one_thread_per_destination(
    database_url: str, pool: asyncpg.Pool
) -> None:
    async with run_agent(agent_settings(database_url)):
        spike, _ = await open_alert(pool, alert_type="error_spike", severity="high")
        latency, _ = await open_alert(pool, alert_type="high_latency", severity="high")
        # error_spike and high_latency: Jira and Slack each, in one issue and one thread.
        await eventually(lambda: settled(pool, 4))
        down, _ = await open_alert(pool, alert_type="service_down", severity="critical")
        drop, _ = await open_alert(pool, alert_type="traffic_drop", severity="high")
        # service_down: PagerDuty and a Slack reply; traffic_drop is inhibited.
        await eventually(lambda: settled(pool, 6))

    incidents = await pool.fetch("SELECT id FROM incidents")
    assert len(incidents) == 1
    assert await pool.fetchval("SELECT count(*) FROM deliveries WHERE alert_id = $1", drop) == 0
    sink = await sink_messages(pool)
    slack = [m for m in sink if m["toolkit"] == "slack"]
    assert len(slack) == 3
    assert slack[0]["thread_ref"] is None
    assert {m["thread_ref"] for m in slack[1:]} == {
        await pool.fetchval(
            "SELECT thread_ref FROM delivery_threads WHERE alert_id = $1 AND toolkit = 'slack'",
            spike,
        )
    }
    jira = [m["tool"] for m in sink if m["toolkit"] == "jira"]
    assert jira == ["JIRA_CREATE_ISSUE", "JIRA_ADD_COMMENT"]
    pagerduty = [m["tool"] for m in sink if m["toolkit"] == "pagerduty"]
    assert pagerduty == ["PAGERDUTY_CREATE_INCIDENT_RECORD"]
    assert {latency, down} <= {
        r["alert_id"] for r in await pool.fetch("SELECT alert_id FROM deliveries")
    }


async def test_a_silenced_service_is_stored_not_notified_then_released_once(
    database_url: str, pool: asyncpg.Pool
) -> None:
    async with run_agent(agent_settings(database_url)) as agent:
        key = await new_key(pool, Role.ENGINEER, "ada")
        async with agent.client(key) as client:
            ends = datetime.now(UTC) + timedelta(hours=1)
            answer = await client.post(
                "/api/silences",
                json={"service": "check.*", "regex": True, "ends_at": ends.isoformat(),
                      "comment": "deploy"},
            )  # fmt: skip
            assert answer.status_code == 201, answer.text
            silence = answer.json()
            assert silence["creator"] == "ada"
            alert_id, event_id = await open_alert(pool, severity="high")

            async def held() -> bool:
                return bool(
                    await pool.fetchval(
                        "SELECT held_by_silence IS NOT NULL FROM alert_events WHERE id = $1",
                        event_id,
                    )
                )

            await eventually(held)
            assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0
            shown = (await client.get("/api/incidents?service=checkout")).json()
            assert len(shown) == 1
            detail = (await client.get(f"/api/incidents/{shown[0]['id']}")).json()
            assert detail["alerts"][0]["silenced_by"] == silence["id"]

            expired = await client.delete(f"/api/silences/{silence['id']}")
            assert expired.status_code == 200
            await eventually(lambda: settled(pool, 2))
    # A second release finds nothing: the alert was notified exactly once.
    assert await DeliveryStore(pool).release_held(default_rules()) == []
    tools = [m["tool"] for m in await sink_messages(pool)]
    assert sorted(tools) == ["JIRA_CREATE_ISSUE", "SLACK_SEND_MESSAGE"]
    assert await pool.fetchval("SELECT count(*) FROM deliveries WHERE alert_id = $1", alert_id) == 2


async def test_a_weekly_window_silences_inside_and_not_outside(pool: asyncpg.Pool) -> None:
    monday_22 = datetime(2026, 11, 2, 22, 0, tzinfo=UTC)
    await pool.execute(
        "INSERT INTO silences (service, starts_at, ends_at, recurrence, creator) "
        "VALUES ('checkout', $1, $2, 'weekly', 'ops')",
        monday_22,
        monday_22 + timedelta(hours=2),
    )

    async def silenced(at: datetime) -> bool:
        found = await pool.fetchval(
            "SELECT tracer_silence_for('default', 'checkout', 'error_spike', 'high', $1)", at
        )
        return found is not None

    assert await silenced(monday_22 + timedelta(weeks=3, minutes=30))
    assert not await silenced(monday_22 + timedelta(weeks=3, hours=3))
    assert not await silenced(monday_22 - timedelta(minutes=1))
    assert not await silenced(monday_22 + timedelta(weeks=1, days=1))


async def test_ack_and_resolve_by_hand_are_recorded_and_do_not_reopen(
    database_url: str, pool: asyncpg.Pool
) -> None:
    async with run_agent(agent_settings(database_url)) as agent:
        key = await new_key(pool, Role.ENGINEER, "grace")
        alert_id, _ = await open_alert(pool, severity="high")
        await eventually(lambda: settled(pool, 2))
        incident_id = await pool.fetchval("SELECT incident_id FROM alerts WHERE id = $1", alert_id)
        async with agent.client(key) as client:
            acked = (await client.post(f"/api/incidents/{incident_id}/ack")).json()
            assert acked["acknowledged_by"] == "grace"
            unacked = (await client.post(f"/api/incidents/{incident_id}/unack")).json()
            assert unacked["acknowledged_by"] is None
            resolved = (await client.post(f"/api/incidents/{incident_id}/resolve")).json()
            assert (resolved["status"], resolved["resolved_by"]) == ("resolved", "grace")
            missing = await client.post("/api/incidents/999999/ack")
            assert missing.status_code == 404

            # Still anomalous: escalations and new alerts of the service stay quiet.
            await add_event(pool, alert_id, "escalated", "critical")
            other, _ = await open_alert(pool, alert_type="high_latency", severity="critical")
            # The opening (2), then ack, unack and resolve in the Slack thread and issue (6).
            await eventually(lambda: settled(pool, 8))
            assert await pool.fetchval("SELECT incident_id FROM alerts WHERE id = $1", other) == (
                incident_id
            )
            # Healthy once: the next alert is a new incident, notified again.
            await add_event(pool, alert_id, "resolved", "critical")
            await add_event(pool, other, "resolved", "critical")
            again, _ = await open_alert(pool, alert_type="error_spike", severity="high")
            # The first alert's recovery replies in its thread and issue (2); the quiet alert's
            # recovery sends nothing; the new incident opens an issue and a thread (2).
            await eventually(lambda: settled(pool, 12))
            detail = (await client.get(f"/api/incidents/{incident_id}")).json()
        assert await pool.fetchval("SELECT incident_id FROM alerts WHERE id = $1", again) != (
            incident_id
        )
        kinds = [e["kind"] for e in detail["events"]]
        assert kinds == ["opened", "acknowledged", "unacknowledged", "manually_resolved",
                         "alert_added"]  # fmt: skip


async def test_api_keys_are_listed_and_revoked_by_admins(
    database_url: str, pool: asyncpg.Pool
) -> None:
    async with run_agent(agent_settings(database_url)) as agent:
        admin = await new_key(pool, Role.ADMIN, "root")
        engineer = await new_key(pool, Role.ENGINEER, "eve")
        async with agent.client(admin) as client:
            created = (await client.post("/api/keys", json={"role": "ingest"})).json()
            listed = (await client.get("/api/keys")).json()
            assert [k["name"] for k in listed][-1] == created["name"]
            assert all("key_hash" not in k and "key" not in k for k in listed)
            assert (await client.delete(f"/api/keys/{created['prefix']}")).status_code == 200
            assert (await client.delete(f"/api/keys/{created['prefix']}")).status_code == 404
        async with agent.client(engineer) as client:
            assert (await client.get("/api/keys")).status_code == 403
