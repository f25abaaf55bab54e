"""Reads of `service_rollups` (written by the processor): one row per service per minute."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from tracer_agent.dbtypes import Db

_COLUMNS = """
    project, service, minute, count, errors, p95_ms, error_rate_mean, error_rate_std, count_mean,
    count_std, p95_mean, p95_std, score, anomalous
"""


@dataclass(frozen=True, slots=True)
class RollupPoint:
    project: str
    service: str
    minute: datetime
    count: int
    errors: int
    p95_ms: float | None
    error_rate_mean: float | None
    error_rate_std: float | None
    count_mean: float | None
    count_std: float | None
    p95_mean: float | None
    p95_std: float | None
    score: float
    anomalous: bool

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0


def _point(record: asyncpg.Record) -> RollupPoint:
    return RollupPoint(**dict(record))


class RollupStore:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def series(
        self, *, service: str, since: datetime, until: datetime, project: str | None = None
    ) -> list[RollupPoint]:
        """One service's minutes in [since, until), oldest first; `project` narrows when a
        service name is used by several projects."""
        records = await self._db.fetch(
            f"""
            SELECT {_COLUMNS} FROM service_rollups
            WHERE lower(service) = lower($1) AND ($4::text IS NULL OR project = $4)
              AND minute >= $2 AND minute < $3
            ORDER BY minute
            """,
            service,
            since,
            until,
            project,
        )
        return [_point(r) for r in records]

    async def all_services(
        self, *, since: datetime, limit: int
    ) -> dict[tuple[str, str], list[RollupPoint]]:
        """Every (project, service) with minutes since `since` (at most `limit`, busiest
        first), each series oldest first. Services of the same name in two projects are
        two series."""
        records = await self._db.fetch(
            f"""
            WITH busiest AS (
                SELECT project, service FROM service_rollups WHERE minute >= $1
                GROUP BY project, service ORDER BY sum(count) DESC, project, service LIMIT $2
            )
            SELECT {_COLUMNS} FROM service_rollups
            WHERE minute >= $1 AND (project, service) IN (SELECT project, service FROM busiest)
            ORDER BY project, service, minute
            """,
            since,
            limit,
        )
        series: dict[tuple[str, str], list[RollupPoint]] = {}
        for record in records:
            series.setdefault((record["project"], record["service"]), []).append(_point(record))
        return series

    async def hourly(
        self, *, service: str, since: datetime, until: datetime
    ) -> list[dict[str, Any]]:
        """One service's minutes summed per hour in [since, until), oldest first: what the
        chat reads to answer "what did checkout's error rate do yesterday?"."""
        records = await self._db.fetch(
            """
            SELECT date_trunc('hour', minute) AS hour, sum(count)::bigint AS count,
                   sum(errors)::bigint AS errors,
                   CASE WHEN sum(count) > 0
                        THEN round(sum(errors)::numeric / sum(count), 4)::float8
                        ELSE 0 END AS error_rate,
                   max(p95_ms) AS max_p95_ms,
                   avg(error_rate_mean) AS baseline_error_rate,
                   count(*) FILTER (WHERE anomalous) AS anomalous_minutes
            FROM service_rollups
            WHERE lower(service) = lower($1) AND minute >= $2 AND minute < $3
            GROUP BY 1 ORDER BY 1
            """,
            service,
            since,
            until,
        )
        return [dict(r) for r in records]
