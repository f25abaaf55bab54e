"""A partition's checkpoint writes only the services whose detector state changed since the
owner last wrote them: with many idle services and one busy one, each round writes the busy
one's row alone, and a successor that restored the rows finds nothing to write."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import asyncpg
from prometheus_client import CollectorRegistry

from tests.processor.traffic import Harness, Service
from tracer_processor.alerts.store import PostgresAlertStore
from tracer_processor.alerts.writer import AlertWriter
from tracer_processor.checkpoints.store import CheckpointStore
from tracer_processor.cluster.leases import LeaseStore
from tracer_processor.cluster.ledger import Ledger
from tracer_processor.cluster.metrics import ClusterMetrics
from tracer_processor.cluster.owner import PartitionOwner
from tracer_processor.cluster.partitioning import Partitioner
from tracer_processor.detection.config import DetectorConfig

START = datetime.now(UTC).replace(microsecond=0)


class _Settled:
    """An alert writer with nothing pending (no alert is raised here)."""

    submitted = written = dropped = rejected = 0


def _owner(harness: Harness, pool: asyncpg.Pool, member: str) -> PartitionOwner:
    ledger = Ledger(1)
    harness.pipeline.on_closed = ledger.on_closed
    return PartitionOwner(
        pipeline=harness.pipeline,
        writer=cast(AlertWriter, _Settled()),
        alerts=PostgresAlertStore(pool, processor_id=member),
        leases=LeaseStore(pool, member_id=member, lease_seconds=30),
        checkpoints=CheckpointStore(pool, saved_by=member),
        ledger=ledger,
        partitioner=Partitioner(1),
        clock=harness.clock,
        metrics=ClusterMetrics(CollectorRegistry()),
    )


async def _saved_at(pool: asyncpg.Pool) -> dict[str, datetime]:
    rows = await pool.fetch("SELECT service, saved_at FROM baseline_checkpoints")
    return {r["service"]: r["saved_at"] for r in rows}


async def test_only_changed_services_are_written(pool: asyncpg.Pool) -> None:
    config = DetectorConfig(warmup_buckets=6, window_buckets=60)
    idle = [Service(f"idle-{i}", rate=2.0) for i in range(30)]
    busy = Service("busy", rate=20.0)
    harness = Harness(config=config, seed=5, start=START)
    owner = _owner(harness, pool, "a")
    leases = LeaseStore(pool, member_id="a", lease_seconds=30)
    await leases.seed(1)
    await leases.heartbeat()
    await owner.take(await leases.acquire([0]))
    state = owner.ledger.owned[0]
    harness.run([*idle, busy], 120)
    state.keys.update(("default", s.name) for s in [*idle, busy])
    first = owner.snapshot(state)
    assert len(first.checkpoints) == 31
    await owner.save(first)
    written = await _saved_at(pool)
    for _ in range(3):  # the idle services fall silent; the busy one's buckets close
        harness.run([busy], 10)
        snapshot = owner.snapshot(state)
        assert [c.service for c in snapshot.checkpoints] == ["busy"]
        await owner.save(snapshot)
    assert owner.snapshot(state).checkpoints == []  # nothing changed since the last write
    now = await _saved_at(pool)
    assert {s for s in now if now[s] != written[s]} == {"busy"}
    row = await pool.fetchrow("SELECT resume_seq, folded FROM partition_leases")
    assert row is not None

    # A successor restores the rows it finds: they hold its state, nothing is written.
    successor = Harness(config=config, seed=6, start=harness.clock.now())
    other = _owner(successor, pool, "b")
    await leases.release(0, state.token)
    await LeaseStore(pool, member_id="b", lease_seconds=30).heartbeat()
    taken = await LeaseStore(pool, member_id="b", lease_seconds=30).acquire([0])
    await other.take(taken)
    assert len(successor.pipeline.registry) == 31
    assert other.snapshot(other.ledger.owned[0]).checkpoints == []
