"""Two replicas sharing one PostgreSQL: a stream that moves from one to the other is not an
outage, and a service no replica receives any more is still reported down."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from tests.processor.traffic import START, Harness, Service
from tracer_core.models import AlertType
from tracer_processor.buckets.arrival_sharing import ArrivalSharing
from tracer_processor.buckets.arrival_store import ArrivalStore

SHOP = Service("shop", rate=12.0)
SILENCE = 45.0


def sharing(harness: Harness, pool: asyncpg.Pool) -> ArrivalSharing:
    return ArrivalSharing(
        harness.pipeline, ArrivalStore(pool), clock=harness.clock, interval=5, silence=SILENCE
    )


def at(harness: Harness, epoch: float) -> None:
    harness.clock.set(datetime.fromtimestamp(epoch, UTC))


async def test_without_sharing_the_replica_left_behind_would_page(pool: asyncpg.Pool) -> None:
    left, right = Harness(seed=1), Harness(seed=2)
    left.run([SHOP], 1200)
    right.event_time = left.event_time
    right.run([SHOP], 600)
    at(left, right.clock.now().timestamp())
    left.pipeline.tick()
    assert left.candidates(AlertType.SERVICE_DOWN)  # what sharing arrivals prevents


async def test_a_stream_moved_between_replicas_raises_nothing(pool: asyncpg.Pool) -> None:
    left, right = Harness(seed=1), Harness(seed=2)
    left_share, right_share = sharing(left, pool), sharing(right, pool)
    left.run([SHOP], 1200)  # the stream is on the left replica, then moves right
    right.event_time = left.event_time
    await left_share.share_once()
    for _ in range(120):  # ten minutes on the right, both replicas sharing every 5 s
        right.run([SHOP], 5, step=5)
        at(left, right.clock.now().timestamp())
        await right_share.share_once()
        await left_share.share_once()
        left.pipeline.tick()
    assert left.candidates() == []
    assert right.candidates() == []

    # The service really stops: no replica receives it, the left one reports it down.
    stopped = right.clock.now().timestamp()
    for second in range(5, 120, 5):
        at(left, stopped + second)
        await left_share.share_once()
        left.pipeline.tick()
    assert left.candidates(AlertType.SERVICE_DOWN)


async def test_saving_never_moves_an_arrival_backwards(pool: asyncpg.Pool) -> None:
    store = ArrivalStore(pool)
    newer, older = datetime(2026, 3, 2, 9, 5, tzinfo=UTC), START
    await store.save([("default", "shop", newer), ("default", "cart", older)])
    await store.save([("default", "shop", older), ("default", "cart", newer)])
    loaded = sorted(await store.load([("default", "shop"), ("default", "cart"), ("x", "y")]))
    assert loaded == [("default", "cart", newer), ("default", "shop", newer)]
    assert await store.prune(before=newer) == 0
    assert await store.prune(before=datetime(2026, 3, 3, tzinfo=UTC)) == 2
