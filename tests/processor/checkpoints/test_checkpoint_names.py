"""A NUL in a service name (which PostgreSQL cannot store) never fails the checkpoint save
of the other services in its batch."""

from __future__ import annotations

import asyncpg
import orjson

from tests.processor.traffic import Harness, Service
from tracer_processor.checkpoints.checkpointer import Checkpointer
from tracer_processor.checkpoints.store import CheckpointStore
from tracer_processor.ingest.batch import IngestLimits
from tracer_processor.ingest.records import parse_logs

FLEET = [Service("checkout", rate=5.0), Service("cart", rate=5.0)]


def checkpointer(harness: Harness, pool: asyncpg.Pool) -> Checkpointer:
    store = CheckpointStore(pool, saved_by="replica-a")
    return Checkpointer(harness.pipeline, store, clock=harness.clock, interval=60.0)


async def saved_services(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT service FROM baseline_checkpoints ORDER BY service")
    return [row["service"] for row in rows]


async def test_a_nul_sent_in_a_service_name_still_lets_checkpoints_save(
    pool: asyncpg.Pool,
) -> None:
    harness = Harness(seed=2)
    harness.run(FLEET, 60)
    at = harness.event_time
    record = {"timestamp": int(at * 1000) - 500, "level": "info", "message": "m"}
    body = orjson.dumps([record | {"service": "pay\u0000ments"}, record | {"service": "cart"}])
    batch = parse_logs(body, ndjson=False, now=at, limits=IngestLimits())
    assert harness.ingest(batch).accepted == 2
    harness.run([*FLEET, Service("payments", rate=5.0)], 60)
    assert await checkpointer(harness, pool).save() == 3
    assert await saved_services(pool) == ["cart", "checkout", "payments"]


async def test_a_name_that_cannot_be_stored_is_skipped_not_fatal(pool: asyncpg.Pool) -> None:
    harness = Harness(seed=2)
    harness.run([*FLEET, Service("bad\u0000name", rate=5.0)], 60)  # bypasses ingest
    assert await checkpointer(harness, pool).save() == 2
    assert await saved_services(pool) == ["cart", "checkout"]
