"""The `destination_rate_limits` table: per-destination rate limits shared by every agent
replica, a generic cell rate algorithm on one row per destination, one statement per message."""

from __future__ import annotations

import asyncpg


class RateLimits:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def reserve_slot(self, *, destination: str, per_minute: float, burst: int) -> float:
        """Take a send slot on `destination`; returns how many seconds to wait before sending
        (0 when it may go now). Shared by all replicas: a generic cell rate algorithm on one
        row, one statement."""
        interval = 60.0 / per_minute
        value = await self._pool.fetchval(
            """
            INSERT INTO destination_rate_limits AS r (destination, tat)
            VALUES ($1, now() + make_interval(secs => $2))
            ON CONFLICT (destination) DO UPDATE
            SET tat = greatest(r.tat, now()) + make_interval(secs => $2)
            RETURNING extract(epoch FROM tat - now()) - $2 * $3
            """,
            destination,
            interval,
            burst,
        )
        return max(float(value), 0.0)

    async def release_slot(self, *, destination: str, per_minute: float) -> None:
        """Give back a slot taken by a send that did not happen."""
        await self._pool.execute(
            """
            UPDATE destination_rate_limits
            SET tat = tat - make_interval(secs => $2) WHERE destination = $1
            """,
            destination,
            60.0 / per_minute,
        )
