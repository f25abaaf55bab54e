"""The shared arrivals store: the processor's only queries on `service_arrivals`.

One statement per batch either way (arrays unnested server-side). Saves keep the newest
arrival (greatest), so replicas writing at once never move a service's row backwards; keys
are sorted so concurrent batches lock rows in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

Arrival = tuple[str, str, datetime]  # project, service, last arrival

_SAVE = """
INSERT INTO service_arrivals AS a (project, service, last_arrival)
SELECT project, service, last_arrival
FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(project, service, last_arrival)
ORDER BY project, service
ON CONFLICT (project, service) DO UPDATE
SET last_arrival = greatest(a.last_arrival, EXCLUDED.last_arrival)
WHERE a.last_arrival < EXCLUDED.last_arrival
"""
_LOAD = """
SELECT a.project, a.service, a.last_arrival
FROM service_arrivals a
JOIN unnest($1::text[], $2::text[]) AS k(project, service)
  ON a.project = k.project AND a.service = k.service
"""
_PRUNE = "DELETE FROM service_arrivals WHERE last_arrival < $1"


class ArrivalStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def save(self, arrivals: Sequence[Arrival]) -> None:
        """Record arrivals (services unique within the batch); older ones change nothing."""
        if not arrivals:
            return
        await self._pool.execute(
            _SAVE,
            [a[0] for a in arrivals],
            [a[1] for a in arrivals],
            [a[2] for a in arrivals],
        )

    async def load(self, keys: Sequence[tuple[str, str]]) -> list[Arrival]:
        """The newest arrival any replica recorded for each of `keys` (those with a row)."""
        if not keys:
            return []
        rows = await self._pool.fetch(_LOAD, [k[0] for k in keys], [k[1] for k in keys])
        return [(r["project"], r["service"], r["last_arrival"]) for r in rows]

    async def prune(self, *, before: datetime) -> int:
        """Forget services no replica has received since `before`."""
        status: str = await self._pool.execute(_PRUNE, before)
        return int(status.split()[-1])
