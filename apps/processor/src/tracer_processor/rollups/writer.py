"""The background task that turns accumulated buckets into stored minute rows.

Every `interval` seconds it drains the accumulator (one synchronous numpy pass) and upserts
the rows in batches; once an hour it deletes rows older than the retention. A database error
is logged and the drained rows are dropped: rollups are for charts, detection never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import asyncpg

from tracer_core.clock import Clock
from tracer_processor.buckets.registry import ServiceRegistry
from tracer_processor.rollups.accumulator import RollupAccumulator
from tracer_processor.rollups.store import RollupStore

log = logging.getLogger(__name__)
BATCH = 2000
PRUNE_EVERY_SECONDS = 3600.0
_DATABASE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


class RollupWriter:
    def __init__(
        self,
        accumulator: RollupAccumulator,
        registry: ServiceRegistry,
        store: RollupStore,
        *,
        clock: Clock,
        interval: float,
        retention: timedelta,
    ) -> None:
        self._accumulator = accumulator
        self._registry = registry
        self._store = store
        self._clock = clock
        self.interval = interval
        self._retention = retention
        self._next_prune = 0.0
        self._task: asyncio.Task[None] | None = None
        self.rows_written = 0

    async def flush(self) -> int:
        """Write what was accumulated; returns how many minute rows were upserted."""
        rows = self._accumulator.drain(self._registry.key_or_none)
        written = 0
        for start in range(0, len(rows), BATCH):
            try:
                await self._store.upsert(rows[start : start + BATCH])
                written += len(rows[start : start + BATCH])
            except _DATABASE_ERRORS as exc:
                log.warning("could not write %d service rollups: %s", len(rows) - start, exc)
                break
        self.rows_written += written
        now = self._clock.now()
        if now.timestamp() >= self._next_prune:
            self._next_prune = now.timestamp() + PRUNE_EVERY_SECONDS
            with contextlib.suppress(*_DATABASE_ERRORS):
                pruned = await self._store.prune(before=now - self._retention)
                if pruned:
                    log.info("pruned %d service rollups older than %s", pruned, self._retention)
        return written

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="rollups")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
