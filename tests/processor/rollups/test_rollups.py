"""Minute rollups: scored buckets fold into one row per service per minute, upserts add up
across flushes, and rows older than the retention are pruned."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from tests.processor.traffic import START, Harness, Service
from tracer_core.clock import ManualClock
from tracer_processor.rollups.accumulator import RollupAccumulator
from tracer_processor.rollups.store import RollupStore
from tracer_processor.rollups.writer import RollupWriter


def _harness() -> tuple[Harness, RollupAccumulator]:
    harness = Harness()
    accumulator = RollupAccumulator(bucket_seconds=harness.config.bucket_seconds)
    harness.pipeline.rollups = accumulator
    return harness, accumulator


def test_buckets_fold_into_minutes_per_service() -> None:
    harness, accumulator = _harness()
    services = [Service("checkout", rate=20.0, error_rate=0.05), Service("search", rate=5.0)]
    harness.run(services, 600)
    rows = accumulator.drain(harness.pipeline.registry.key_or_none)
    assert len(accumulator) == 0
    by_key = {(r.service, r.minute): r for r in rows}
    assert {r.service for r in rows} == {"checkout", "search"}
    assert len({r.minute for r in rows if r.service == "checkout"}) >= 9
    full = by_key[("checkout", START + timedelta(minutes=5))]
    assert 900 <= full.count <= 1500  # 20/s for a minute
    assert 0 < full.errors < full.count
    assert full.p95_ms is not None
    assert full.p95_ms > 50
    late = by_key[("checkout", START + timedelta(minutes=8))]
    mean, std = late.baselines["error_rate"]
    assert mean is not None
    assert 0.01 < mean < 0.1
    assert std is not None


async def test_writer_upserts_adding_up_and_prunes(pool: asyncpg.Pool) -> None:
    harness, accumulator = _harness()
    clock = ManualClock(START + timedelta(minutes=5))
    writer = RollupWriter(
        accumulator,
        harness.pipeline.registry,
        RollupStore(pool),
        clock=clock,
        interval=10,
        retention=timedelta(days=7),
    )
    harness.run([Service("checkout", rate=10.0)], 90)
    assert await writer.flush() > 0
    harness.run([Service("checkout", rate=10.0)], 90)
    await writer.flush()
    total = await pool.fetchval("SELECT sum(count) FROM service_rollups")
    minutes = await pool.fetchval("SELECT count(DISTINCT minute) FROM service_rollups")
    assert 1500 <= total <= 2100
    assert minutes >= 3
    # Eight days later the first flush prunes everything older than seven days.
    assert await pool.fetchval("SELECT count(*) FROM service_rollups") == minutes
    clock.set(START + timedelta(days=8))
    await writer.flush()  # the first flush an hour or more after the last prune prunes
    assert await pool.fetchval("SELECT count(*) FROM service_rollups") == 0
