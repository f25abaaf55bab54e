"""The processor's only queries on `service_rollups`: batched upserts and the retention prune.

A minute written in several flushes (or by a replica that took a service over) accumulates:
counts and errors add up, the p95 and score keep the highest, the baselines the latest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from tracer_processor.rollups.accumulator import RollupRow

_UPSERT = """
INSERT INTO service_rollups AS r (
    project, service, minute, count, errors, p95_ms, error_rate_mean, error_rate_std,
    count_mean, count_std, p95_mean, p95_std, score, anomalous)
SELECT * FROM unnest(
    $1::text[], $2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::float8[],
    $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::float8[],
    $13::float8[], $14::bool[])
ON CONFLICT (project, service, minute) DO UPDATE SET
    count = r.count + EXCLUDED.count,
    errors = r.errors + EXCLUDED.errors,
    p95_ms = greatest(r.p95_ms, EXCLUDED.p95_ms),
    error_rate_mean = coalesce(EXCLUDED.error_rate_mean, r.error_rate_mean),
    error_rate_std = coalesce(EXCLUDED.error_rate_std, r.error_rate_std),
    count_mean = coalesce(EXCLUDED.count_mean, r.count_mean),
    count_std = coalesce(EXCLUDED.count_std, r.count_std),
    p95_mean = coalesce(EXCLUDED.p95_mean, r.p95_mean),
    p95_std = coalesce(EXCLUDED.p95_std, r.p95_std),
    score = greatest(r.score, EXCLUDED.score),
    anomalous = r.anomalous OR EXCLUDED.anomalous
"""
_PRUNE = "DELETE FROM service_rollups WHERE minute < $1"


class RollupStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def upsert(self, rows: Sequence[RollupRow]) -> None:
        """One statement for the batch; (project, service, minute) must be unique in it."""
        if not rows:
            return

        def stat(metric: str, index: int) -> list[float | None]:
            return [r.baselines[metric][index] for r in rows]

        await self._pool.execute(
            _UPSERT,
            [r.project for r in rows],
            [r.service for r in rows],
            [r.minute for r in rows],
            [r.count for r in rows],
            [r.errors for r in rows],
            [r.p95_ms for r in rows],
            stat("error_rate", 0),
            stat("error_rate", 1),
            stat("count", 0),
            stat("count", 1),
            stat("latency_p95_ms", 0),
            stat("latency_p95_ms", 1),
            [r.score for r in rows],
            [r.anomalous for r in rows],
        )

    async def prune(self, *, before: datetime) -> int:
        status = await self._pool.execute(_PRUNE, before)
        return int(status.rsplit(" ", 1)[-1])
