"""Baseline checkpoints: a restarted processor resumes detection at once.

Every `interval` seconds (and once more on a clean shutdown) the services whose detector
state moved since their last checkpoint are saved, in batches, by a background task: each
batch is copied out of the detector in one synchronous step (so it is consistent per
service), encoded, and upserted while ingest and detection carry on - nothing on their path
ever waits for the database. At start, before the processor serves, the checkpoints whose
last bucket is within the rolling window are restored; older ones are ignored, and a corrupt
or incompatible one is skipped with a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np

from tracer_core.clock import Clock
from tracer_processor.checkpoints.codec import CheckpointCodec
from tracer_processor.checkpoints.store import CheckpointStore, StoredCheckpoint
from tracer_processor.pipeline import Pipeline

log = logging.getLogger(__name__)
BATCH = 1000  # services per upsert (and per synchronous copy out of the detector)
_DATABASE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


class Checkpointer:
    def __init__(
        self, pipeline: Pipeline, store: CheckpointStore, *, clock: Clock, interval: float
    ) -> None:
        self._pipeline = pipeline
        self._store = store
        self._clock = clock
        self.interval = interval
        self.codec = CheckpointCodec(pipeline.detector)
        config = pipeline.detector.config
        self._bucket_seconds = config.bucket_seconds
        self._window = timedelta(seconds=config.window_buckets * config.bucket_seconds)
        self._saved_steps = np.zeros(0, np.int64)  # detector step count at the last save
        self._task: asyncio.Task[None] | None = None
        self.last_save_seconds = 0.0

    # -- start ------------------------------------------------------------------------------

    async def restore(self) -> int:
        """Load recent checkpoints into the pipeline; returns how many services were restored.
        A database error leaves the processor to warm up as before."""
        since = self._clock.now() - self._window
        try:
            await self._prune(since)
            stored = await self._store.load(since=since, limit=self._pipeline.registry.max_services)
        except _DATABASE_ERRORS as exc:
            log.warning("could not read baseline checkpoints; baselines warm up again: %s", exc)
            return 0
        try:
            restored = self._apply(stored)
        except Exception:  # whatever is in the table, the processor starts (and warms up)
            log.exception("could not restore baseline checkpoints; baselines warm up again")
            return 0
        self._mark_saved()  # what was just loaded need not be written back
        if restored:
            log.info("restored the baselines of %d services from checkpoints", restored)
        return restored

    def _apply(self, stored: list[StoredCheckpoint]) -> int:
        records, kept, problems = self.codec.decode([c.state for c in stored])
        for problem in sorted(set(problems)):
            log.warning("skipped %d baseline checkpoints: %s", problems.count(problem), problem)
        keys = [(stored[i].project, stored[i].service) for i in kept]
        state = {name: records[name] for name in self.codec.dtype.names or ()}
        return self._pipeline.restore(keys, state)

    # -- saving -----------------------------------------------------------------------------

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="baseline-checkpoints")

    async def stop(self, *, grace_seconds: float) -> None:
        """Stop the periodic saves and save once more (a clean shutdown loses nothing)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            async with asyncio.timeout(grace_seconds):
                await self.save()
        except _DATABASE_ERRORS as exc:
            log.warning("could not save baseline checkpoints at shutdown: %s", exc)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.save()
            except _DATABASE_ERRORS as exc:
                log.warning("could not save baseline checkpoints (retried later): %s", exc)
            except Exception:  # a bug here must not end checkpoints for good
                log.exception("saving baseline checkpoints failed")

    async def save(self) -> int:
        """Checkpoint every service whose state moved since its last save; returns how many."""
        started = time.perf_counter()
        pipeline = self._pipeline
        detector = pipeline.detector
        self._cover(detector.steps.size)
        since = (self._clock.now() - self._window).timestamp()
        registry = pipeline.registry
        slots = np.array([slot for _, slot in registry.items()], np.intp)
        steps = detector.steps[slots]
        ends = (detector.last[slots, 0] + 1) * self._bucket_seconds
        slots = slots[(steps > 0) & (steps != self._saved_steps[slots]) & (ends >= since)]
        saved = 0
        for first in range(0, slots.size, BATCH):
            # One synchronous copy per batch: consistent per service, whatever is scored
            # while the previous batch was being written (services forgotten since then,
            # whose slots may belong to another service by now, are left out).
            batch = slots[first : first + BATCH]
            batch = batch[detector.steps[batch] > 0]
            keys = [_storable(registry.key_or_none(slot)) for slot in batch.tolist()]
            batch = batch[[key is not None for key in keys]]
            state = detector.export(batch)
            ends = (state["last"][:, 0] + 1) * self._bucket_seconds
            rows = [
                StoredCheckpoint(project, service, _when(end), blob)
                for (project, service), end, blob in zip(
                    filter(None, keys), ends.tolist(), self.codec.encode(state), strict=True
                )
            ]
            await self._store.save(rows)
            self._saved_steps[batch] = state["steps"]
            saved += len(rows)
        self.last_save_seconds = time.perf_counter() - started
        if saved:
            log.debug("checkpointed %d services in %.3f s", saved, self.last_save_seconds)
        return saved

    def _mark_saved(self) -> None:
        steps = self._pipeline.detector.steps
        self._cover(steps.size)
        self._saved_steps[: steps.size] = steps

    def _cover(self, capacity: int) -> None:
        grow = capacity - self._saved_steps.size
        if grow > 0:
            self._saved_steps = np.concatenate([self._saved_steps, np.zeros(grow, np.int64)])

    async def _prune(self, before: datetime) -> None:
        pruned = await self._store.prune(before=before)
        if pruned:
            log.info("dropped %d baseline checkpoints older than the rolling window", pruned)


def _when(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def _storable(key: tuple[str, str] | None) -> tuple[str, str] | None:
    """The key, unless PostgreSQL cannot store it (a NUL would fail the whole batch's save;
    ingest cleans names, so only state from elsewhere could carry one)."""
    if key is None or "\x00" in key[0] or "\x00" in key[1]:
        return None
    return key
