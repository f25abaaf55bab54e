"""The delivery tables' SQL rules on a real PostgreSQL: outbox expansion, leases, ordering of
one alert's events on a destination, and the shared rate limit."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.agent.helpers import add_event, open_alert
from tracer_agent.delivery.journal import DeliveryJournal
from tracer_agent.delivery.store import DeliveryStore
from tracer_agent.routing import default_rules
from tracer_agent.stores.rate_limits import RateLimits
from tracer_core.db import create_pool
from tracer_core.models import AlertEventKind


async def test_expansion_routes_openings_and_follows_them_afterwards(pool: asyncpg.Pool) -> None:
    store = DeliveryStore(pool)
    rules = default_rules()
    alert_id, _ = await open_alert(pool, severity="high")
    quiet_id, _ = await open_alert(pool, service="search", severity="low")
    await add_event(pool, alert_id, "escalated", "critical")
    await add_event(pool, alert_id, "resolved", "critical")
    expanded = []
    while batch := await store.expand_events(rules):
        expanded += batch
    assert len(expanded) == 4
    rows = await pool.fetch(
        "SELECT e.kind, d.destination FROM deliveries d JOIN alert_events e ON e.id = d.event_id "
        "WHERE d.alert_id = $1 ORDER BY d.event_id, d.destination",
        alert_id,
    )
    by_kind: dict[str, list[str]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(row["destination"])
    assert by_kind == {
        "opened": ["jira-ops", "slack-incidents"],
        "escalated": ["jira-ops", "pagerduty-oncall", "slack-incidents"],
        "resolved": ["jira-ops", "pagerduty-oncall", "slack-incidents"],
    }
    assert await pool.fetchval("SELECT count(*) FROM deliveries WHERE alert_id = $1", quiet_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM alert_events WHERE dispatched_at IS NULL") == 0


async def test_claims_are_exclusive_ordered_per_thread_and_leases_expire(
    database_url: str, pool: asyncpg.Pool
) -> None:
    rules = default_rules()
    alert_id, _ = await open_alert(pool, severity="medium")
    await add_event(pool, alert_id, "resolved", "medium")
    for index in range(10):
        await open_alert(pool, service=f"svc-{index}", severity="medium")
    store = DeliveryStore(pool)
    while await store.expand_events(rules):
        pass
    other_pool = await create_pool(database_url, min_size=1, max_size=4)
    try:
        other = DeliveryStore(other_pool)
        first, second = await asyncio.gather(
            store.claim(worker="a", limit=20, lease_seconds=30),
            other.claim(worker="b", limit=20, lease_seconds=30),
        )
    finally:
        await other_pool.close()
    ids = [d.id for d in first] + [d.id for d in second]
    assert len(ids) == len(set(ids)) == 11  # the resolution waits for the opening
    kinds = {d.event_kind for d in first + second}
    assert kinds == {AlertEventKind.OPENED}
    assert await store.claim(worker="c", limit=20, lease_seconds=30) == []

    opening = next(d for d in first + second if d.alert_id == alert_id)
    owner = "a" if opening in first else "b"
    assert not await store.renew_lease(delivery_id=opening.id, worker="c", lease_seconds=30)
    await pool.execute(
        "UPDATE deliveries SET next_attempt_at = now() - interval '1 s' WHERE id = $1", opening.id
    )  # its worker died: the lease runs out
    retaken = await store.claim(worker="c", limit=20, lease_seconds=30)
    assert [d.id for d in retaken] == [opening.id]
    assert retaken[0].attempts == 2
    assert (
        await store.complete(delivery_id=opening.id, worker=owner, result={}) is None
    )  # lease lost
    assert await store.complete(delivery_id=opening.id, worker="c", result={"ok": True}) is not None
    resolution = await store.claim(worker="c", limit=20, lease_seconds=30)
    assert [d.event_kind for d in resolution] == [AlertEventKind.RESOLVED]


async def test_rate_limit_is_shared_and_gives_back_unused_slots(pool: asyncpg.Pool) -> None:
    store = RateLimits(pool)
    waits = [await store.reserve_slot(destination="chat", per_minute=60, burst=3) for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 0.9 < waits[3] <= 1.0
    assert 1.9 < waits[4] <= 2.0
    await store.release_slot(destination="chat", per_minute=60)
    again = await store.reserve_slot(destination="chat", per_minute=60, burst=3)
    assert 1.9 < again <= 2.0
    assert await store.reserve_slot(destination="other", per_minute=60, burst=3) == 0.0


async def test_an_answer_recorded_after_losing_the_lease_still_counts(pool: asyncpg.Pool) -> None:
    await open_alert(pool, severity="medium")
    store, journal = DeliveryStore(pool), DeliveryJournal(pool)
    await store.expand_events(default_rules())
    [mine] = await store.claim(worker="slow", limit=1, lease_seconds=30)
    attempt = await journal.start_attempt(
        delivery_id=mine.id, step="post", marker="m", tool="SLACK_SEND_MESSAGE", worker="slow"
    )
    await pool.execute("UPDATE deliveries SET next_attempt_at = now() - interval '1 s'")
    [taken] = await store.claim(worker="fast", limit=1, lease_seconds=30)
    assert taken.id == mine.id
    assert (await journal.history(delivery_id=mine.id)).uncertain.keys() == {"post"}
    # The slow worker's answer arrives after all: it has lost the lease, but the message is out.
    held = await journal.record_step(
        delivery_id=mine.id, worker="slow", step="post", result={"ts": "1.000001"}, thread=None,
        attempt_id=attempt,
    )  # fmt: skip
    assert held is False
    history = await journal.history(delivery_id=mine.id)
    assert history.done == {"post": {"ts": "1.000001"}}  # the new owner will not post again
    assert history.uncertain == {}
