"""Re-notification: a critical incident nobody acknowledged is announced again in its threads
(and PagerDuty notified again) every `after_seconds`, at most `max_count` times.

Which incidents are due is decided in PostgreSQL (`IncidentStore.renotify_due`), so any
number of agent replicas may sweep at once; the clock is injected so tests can move time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg

from tracer_agent.stores.incidents import IncidentStore
from tracer_core.clock import Clock, SystemClock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RenotifyPolicy:
    after_seconds: float
    max_count: int


class Renotifier:
    def __init__(
        self, pool: asyncpg.Pool, policy: RenotifyPolicy, clock: Clock | None = None
    ) -> None:
        self._store = IncidentStore(pool)
        self._policy = policy
        self._clock = clock or SystemClock()

    async def sweep(self) -> list[int]:
        """Queue the due re-notifications; returns the incidents re-notified."""
        if self._policy.max_count == 0:
            return []
        ids = await self._store.renotify_due(
            now=self._clock.now(),
            after_seconds=self._policy.after_seconds,
            max_count=self._policy.max_count,
        )
        if ids:
            log.info("re-notifying unacknowledged critical incidents %s", ids)
        return ids
