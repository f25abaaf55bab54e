"""Re-notification on a controlled clock: an unacknowledged critical incident is notified
again after the configured time, at most N times; an acknowledged one, a lower severity
and a second replica sweeping at the same moment add nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from tests.agent.helpers import (
    add_event,
    agent_settings,
    eventually,
    open_alert,
    run_agent,
    settled,
    sink_messages,
)
from tracer_agent.stores.incidents import IncidentStore
from tracer_core.clock import ManualClock

AFTER = 1800.0


async def _incident_of(pool: asyncpg.Pool, alert_id: int) -> int:
    value = await pool.fetchval("SELECT incident_id FROM alerts WHERE id = $1", alert_id)
    assert isinstance(value, int)
    return value


async def test_only_unacknowledged_critical_incidents_are_renotified_at_most_n_times(
    pool: asyncpg.Pool,
) -> None:
    store = IncidentStore(pool)
    critical = await _incident_of(pool, (await open_alert(pool, severity="critical"))[0])
    acked = await _incident_of(
        pool, (await open_alert(pool, service="payments", severity="critical"))[0]
    )
    await _incident_of(pool, (await open_alert(pool, service="search", severity="high"))[0])
    await store.acknowledge(incident_id=acked, actor="alice")
    start = datetime.now(UTC)

    async def sweep(minutes: float) -> list[int]:
        at = start + timedelta(minutes=minutes)
        return await store.renotify_due(now=at, after_seconds=AFTER, max_count=3)

    assert await sweep(29) == []
    assert await sweep(31) == [critical]
    assert await sweep(31) == []  # counted from the last notification
    assert await sweep(60) == []
    assert await sweep(62) == [critical]
    assert await sweep(93) == [critical]
    assert await sweep(200) == []  # at most three
    assert await pool.fetchval("SELECT count(*) FROM alert_events WHERE kind = 'renotified'") == 3
    kinds = await pool.fetch(
        "SELECT incident_id, kind FROM incident_events WHERE kind = 'renotified'"
    )
    assert {r["incident_id"] for r in kinds} == {critical}
    assert len(kinds) == 3


async def test_two_replicas_sweeping_at_once_renotify_once(pool: asyncpg.Pool) -> None:
    incident = await _incident_of(pool, (await open_alert(pool, severity="critical"))[0])
    at = datetime.now(UTC) + timedelta(seconds=AFTER + 60)
    stores = [IncidentStore(pool) for _ in range(4)]
    swept = await asyncio.gather(
        *(s.renotify_due(now=at, after_seconds=AFTER, max_count=3) for s in stores)
    )
    assert sorted(i for ids in swept for i in ids) == [incident]
    assert await pool.fetchval("SELECT renotify_count FROM incidents") == 1


async def test_the_worker_renotifies_in_the_thread_and_pages_again(
    database_url: str, pool: asyncpg.Pool
) -> None:
    clock = ManualClock(datetime.now(UTC))
    settings = agent_settings(database_url, renotify_after_seconds=AFTER, renotify_max=1)
    async with run_agent(settings, clock=clock):
        await open_alert(pool, severity="critical")  # PagerDuty and Slack
        await eventually(lambda: settled(pool, 2))
        clock.advance(AFTER + 1)
        await eventually(lambda: settled(pool, 4))
        clock.advance(AFTER + 1)  # the one re-notification allowed is spent
        again = await IncidentStore(pool).renotify_due(
            now=clock.now(), after_seconds=AFTER, max_count=1
        )
        assert again == []
    sink = await sink_messages(pool)
    threads = {
        r["toolkit"]: r["thread_ref"]
        for r in await pool.fetch("SELECT toolkit, thread_ref FROM delivery_threads")
    }
    replies = [m for m in sink if m["tool"] == "SLACK_SEND_MESSAGE" and m["thread_ref"]]
    assert len(replies) == 1
    assert replies[0]["thread_ref"] == threads["slack"]
    assert "still not acknowledged" in replies[0]["arguments"]["text"]
    pages = [m for m in sink if m["tool"] == "PAGERDUTY_UPDATE_INCIDENT_BY_ID"]
    assert len(pages) == 1
    assert pages[0]["arguments"]["incident__escalation__level"] == 1
    assert await pool.fetchval("SELECT renotify_count FROM incidents") == 1


async def test_an_escalation_to_critical_makes_the_incident_critical(pool: asyncpg.Pool) -> None:
    alert_id, _ = await open_alert(pool, severity="high")
    incident = await _incident_of(pool, alert_id)
    await add_event(pool, alert_id, "escalated", "critical")
    assert await pool.fetchval("SELECT severity FROM incidents WHERE id = $1", incident) == (
        "critical"
    )
    at = datetime.now(UTC) + timedelta(seconds=AFTER + 60)
    swept = await IncidentStore(pool).renotify_due(now=at, after_seconds=AFTER, max_count=3)
    assert swept == [incident]
