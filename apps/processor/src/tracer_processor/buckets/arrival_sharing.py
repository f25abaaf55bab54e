"""Replicas share when they last received each service, so silence means silence everywhere.

Every `interval` seconds a background task upserts, in batches, the services this replica
received since its last round, then reads what the others saw of the services that have
gone quiet here and hands it to the pipeline: a service another replica still receives (a
stream moved by a load balancer or a collector reconnect) is not silent, and its buckets are
not closed on the clock here. Nothing on the ingest path waits for the database; a round
that fails is logged and the next one carries on (the arrivals are sent again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

import asyncpg

from tracer_core.clock import Clock
from tracer_processor.buckets.arrival_store import Arrival, ArrivalStore
from tracer_processor.pipeline import Pipeline

log = logging.getLogger(__name__)
BATCH = 1000  # services per upsert
_DATABASE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)
_FORGET_AFTER = timedelta(days=2)  # rows of services no replica received for this long


class ArrivalSharing:
    def __init__(
        self,
        pipeline: Pipeline,
        store: ArrivalStore,
        *,
        clock: Clock,
        interval: float,
        silence: float,
    ) -> None:
        self._pipeline = pipeline
        self._store = store
        self._clock = clock
        self.interval = interval
        # Read the others' arrivals well before the clock would call the service silent.
        self._quiet_for = silence / 2
        self._shared_since = float("-inf")
        self._task: asyncio.Task[None] | None = None

    async def share_once(self) -> None:
        """One round: publish our arrivals since the last round, take in the others'."""
        now = self._clock.now().timestamp()
        mine = self._pipeline.arrivals_since(self._shared_since)
        for start in range(0, len(mine), BATCH):
            await self._store.save([_stored(row) for row in mine[start : start + BATCH]])
        self._shared_since = now
        quiet = self._pipeline.quiet_services(self._quiet_for)
        for start in range(0, len(quiet), BATCH):
            seen = await self._store.load(quiet[start : start + BATCH])
            self._pipeline.note_arrivals([(p, s, when.timestamp()) for p, s, when in seen])

    async def prune(self) -> None:
        try:
            gone = await self._store.prune(before=self._clock.now() - _FORGET_AFTER)
        except _DATABASE_ERRORS as exc:
            log.warning("could not prune the shared arrivals: %s", exc)
            return
        if gone:
            log.info("forgot the arrivals of %d services not received for two days", gone)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="arrival-sharing")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.share_once()
            except _DATABASE_ERRORS as exc:
                log.warning("could not share service arrivals with the other replicas: %s", exc)
            except Exception:  # a bug here must not stop the sharing for good
                log.exception("sharing service arrivals failed")


def _stored(row: tuple[str, str, float]) -> Arrival:
    project, service, when = row
    return project, service, datetime.fromtimestamp(when, UTC)
