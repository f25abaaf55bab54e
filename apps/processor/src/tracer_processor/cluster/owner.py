"""Taking partitions over, checkpointing them, and handing them back.

Taking over restores the partition's services from their baseline checkpoints and their
open alerts before a single message is consumed, so detection goes on without a warm-up.
A checkpoint is a synchronous snapshot (detector state of the partition's services whose
state changed since this owner last wrote them, the resume point, the records folded):
a service left out is one whose stored row already holds exactly its state, so the rule
that a resume point is written only with the state of everything before it still holds.
It is written once the alert reports decided before the
snapshot have reached the store - so no checkpoint ever says an incident was raised while
its alert is still only in this process's memory - and fenced by the lease token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np
import numpy.typing as npt

from tracer_core.clock import Clock
from tracer_core.models import AlertStatus
from tracer_processor.alerts.store import PostgresAlertStore
from tracer_processor.alerts.writer import AlertWriter
from tracer_processor.checkpoints.codec import CheckpointCodec
from tracer_processor.checkpoints.store import CheckpointStore, StoredCheckpoint
from tracer_processor.cluster.leases import Lease, LeaseLostError, LeaseStore
from tracer_processor.cluster.ledger import Ledger, PartitionState
from tracer_processor.cluster.metrics import ClusterMetrics
from tracer_processor.cluster.partitioning import Partitioner
from tracer_processor.pipeline import Pipeline

log = logging.getLogger(__name__)
WRITER_DRAIN_SECONDS = 10.0
MAX_OPEN_ALERTS = 1000
_DATABASE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


@dataclass(frozen=True, slots=True)
class Snapshot:
    partition: int
    token: int
    checkpoints: list[StoredCheckpoint]
    slots: npt.NDArray[np.intp]  # of the checkpoints
    changes: npt.NDArray[np.int64]  # the detector's change count of each, when copied
    resume_seq: int
    folded: int
    alerts_submitted: int


class PartitionOwner:
    def __init__(
        self,
        *,
        pipeline: Pipeline,
        writer: AlertWriter,
        alerts: PostgresAlertStore,
        leases: LeaseStore,
        checkpoints: CheckpointStore,
        ledger: Ledger,
        partitioner: Partitioner,
        clock: Clock,
        metrics: ClusterMetrics,
    ) -> None:
        self._pipeline = pipeline
        self._writer = writer
        self._alerts = alerts
        self._leases = leases
        self._checkpoints = checkpoints
        self.ledger = ledger
        self._partitioner = partitioner
        self._clock = clock
        self._metrics = metrics
        self._codec = CheckpointCodec(pipeline.detector)
        config = pipeline.detector.config
        self._bucket_seconds = config.bucket_seconds
        self._window = timedelta(seconds=config.window_buckets * config.bucket_seconds)
        self._written = np.zeros(0, np.int64)  # per slot: its change count when last stored

    # -- taking over ------------------------------------------------------------------------

    async def take(self, leases: list[Lease]) -> None:
        """Restore the services and open alerts of freshly leased partitions, then own them."""
        if not leases:
            return
        wanted = {lease.partition for lease in leases}
        stored = await self._checkpoints.load(
            since=self._clock.now() - self._window, limit=self._pipeline.registry.max_services
        )
        mine = [c for c in stored if self._partitioner.of((c.project, c.service)) in wanted]
        records, kept, problems = self._codec.decode([c.state for c in mine])
        for problem in sorted(set(problems)):
            log.warning("skipped %d baseline checkpoints: %s", problems.count(problem), problem)
        keys = [(mine[i].project, mine[i].service) for i in kept]
        registry = self._pipeline.registry
        fresh = [key for key in keys if registry.slot_of(key) is None]
        self._pipeline.restore(
            keys, {name: records[name] for name in self._codec.dtype.names or ()}
        )
        restored = [slot for key in fresh if (slot := registry.slot_of(key)) is not None]
        self._stored(np.asarray(restored, np.intp))  # their rows hold what was restored
        open_alerts = await self._alerts.list_alerts(
            status=AlertStatus.OPEN, service=None, limit=MAX_OPEN_ALERTS
        )
        self._pipeline.resume_open(
            [a for a in open_alerts if self._partitioner.of((a.project, a.service)) in wanted]
        )
        by_partition: dict[int, set[tuple[str, str]]] = {p: set() for p in wanted}
        for key in keys:
            by_partition[self._partitioner.of(key)].add(key)
        for alert in open_alerts:
            key = (alert.project, alert.service)
            if (partition := self._partitioner.of(key)) in wanted:
                by_partition[partition].add(key)
        for lease in leases:
            state = PartitionState(lease.partition, lease.token, next_seq=lease.resume_seq)
            state.keys = by_partition[lease.partition]
            self._bind(state)
            self.ledger.folded[lease.partition] = lease.folded
            self.ledger.owned[lease.partition] = state
            self._metrics.takeovers.inc()
        log.info(
            "took partitions %s (%d services restored from checkpoints)",
            sorted(wanted),
            len(keys),
        )

    def _bind(self, state: PartitionState) -> None:
        if not state.keys:
            return
        keys = sorted(state.keys)
        slots, _, refused = self._pipeline.registry.lookup(
            [k[0] for k in keys], [k[1] for k in keys]
        )
        if refused:
            slots = np.delete(slots, refused)
        self.ledger.bind(slots, state.partition)

    # -- checkpoints ------------------------------------------------------------------------

    def snapshot(self, state: PartitionState) -> Snapshot:
        """Copy a partition's detector state and cursor out, in one synchronous step."""
        pipeline = self._pipeline
        known = dict(pipeline.registry.items())
        slots = np.array([known[k] for k in state.keys if k in known], np.intp)
        detector = pipeline.detector
        slots = slots[detector.steps[slots] > 0]
        self._cover(detector.changes.size)
        slots = slots[detector.changes[slots] != self._written[slots]]
        exported = detector.export(slots)
        ends = ((exported["last"][:, 0] + 1) * self._bucket_seconds).tolist()
        keys = [pipeline.registry.key(slot) for slot in slots.tolist()]
        rows = [
            StoredCheckpoint(project, service, datetime.fromtimestamp(end, UTC), blob)
            for (project, service), end, blob in zip(
                keys, ends, self._codec.encode(exported), strict=True
            )
        ]
        return Snapshot(
            partition=state.partition,
            token=state.token,
            checkpoints=rows,
            slots=slots,
            changes=detector.changes[slots].copy(),
            resume_seq=state.resume_seq(pipeline.buckets.open_base),
            folded=int(self.ledger.folded[state.partition]),
            alerts_submitted=self._writer.submitted,
        )

    async def save(self, snapshot: Snapshot) -> None:
        """Write a snapshot once the alerts decided before it are stored (fenced)."""
        await self._alerts_stored(snapshot.alerts_submitted)
        await self._leases.save_cursor(
            snapshot.partition,
            snapshot.token,
            checkpoints=snapshot.checkpoints,
            resume_seq=snapshot.resume_seq,
            folded=snapshot.folded,
        )
        self._cover(int(snapshot.slots.max()) + 1 if snapshot.slots.size else 0)
        self._written[snapshot.slots] = snapshot.changes  # a reused slot moved on: still dirty

    def _stored(self, slots: npt.NDArray[np.intp]) -> None:
        """These slots' state is what their stored checkpoints hold."""
        if slots.size:
            self._cover(int(slots.max()) + 1)
            self._written[slots] = self._pipeline.detector.changes[slots]

    def _cover(self, size: int) -> None:
        if size > self._written.size:
            grown = np.full(max(size, 2 * self._written.size), -1, np.int64)
            grown[: self._written.size] = self._written
            self._written = grown

    async def _alerts_stored(self, submitted: int) -> None:
        writer = self._writer
        async with asyncio.timeout(WRITER_DRAIN_SECONDS):
            while writer.written + writer.dropped + writer.rejected < submitted:  # noqa: ASYNC110
                await asyncio.sleep(0.01)  # the writer signals only idleness, not progress

    async def checkpoint_all(self) -> None:
        """Checkpoint every owned partition; a partition whose lease moved is dropped."""
        for state in list(self.ledger.owned.values()):
            if self.ledger.owned.get(state.partition) is not state:
                continue
            try:
                await self.save(self.snapshot(state))
            except LeaseLostError:
                self.drop(state.partition, reason="lost")

    # -- handing back -----------------------------------------------------------------------

    def drop(self, partition: int, *, reason: str) -> PartitionState | None:
        """Stop working on a partition at once and forget its services."""
        state = self.ledger.owned.pop(partition, None)
        if state is None:
            return None
        known = dict(self._pipeline.registry.items())
        slots = np.array([known[k] for k in state.keys if k in known], np.intp)
        self.ledger.unbind(slots)
        self._pipeline.forget(list(state.keys))
        self._metrics.releases.labels(reason).inc()
        with contextlib.suppress(KeyError):
            self._metrics.consumer_lag.remove(str(partition))
        return state

    async def release(self, partition: int) -> None:
        """Hand a partition back: final checkpoint, forget, free the lease."""
        state = self.ledger.owned.get(partition)
        if state is None:
            return
        snapshot = self.snapshot(state)
        self.drop(partition, reason="rebalance")
        try:
            await self.save(snapshot)
            await self._leases.release(partition, state.token)
        except LeaseLostError:
            log.info("partition %d had already moved on", partition)
        except _DATABASE_ERRORS as exc:
            log.warning("could not hand partition %d back cleanly (it expires): %s", partition, exc)
