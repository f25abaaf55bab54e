"""The `silences` table: silences and maintenance windows, created, listed and expired.
Whether an alert is silenced is decided in SQL (sql/functions/tracer_silence_for.sql)."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from pydantic import BaseModel

_COLUMNS = """
    id, project, service, alert_type, severity, regex, starts_at, ends_at, recurrence, creator,
    comment, created_at, expired_at
"""


class Silence(BaseModel):
    id: int
    project: str | None
    service: str | None
    alert_type: str | None
    severity: str | None
    regex: bool
    starts_at: datetime
    ends_at: datetime
    recurrence: str
    creator: str
    comment: str
    created_at: datetime
    expired_at: datetime | None


class SilenceStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(
        self,
        *,
        project: str | None,
        service: str | None,
        alert_type: str | None,
        severity: str | None,
        regex: bool,
        starts_at: datetime,
        ends_at: datetime,
        recurrence: str,
        creator: str,
        comment: str,
    ) -> Silence:
        row = await self._pool.fetchrow(
            f"""
            INSERT INTO silences (project, service, alert_type, severity, regex, starts_at,
                                  ends_at, recurrence, creator, comment)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {_COLUMNS}
            """,
            project,
            service,
            alert_type,
            severity,
            regex,
            starts_at,
            ends_at,
            recurrence,
            creator,
            comment,
        )
        assert row is not None
        return Silence.model_validate(dict(row))

    async def list_silences(self, *, include_expired: bool) -> list[Silence]:
        rows = await self._pool.fetch(
            f"""
            SELECT {_COLUMNS} FROM silences
            WHERE $1 OR (expired_at IS NULL AND (recurrence = 'weekly' OR ends_at > now()))
            ORDER BY id DESC
            """,
            include_expired,
        )
        return [Silence.model_validate(dict(r)) for r in rows]

    async def expire(self, *, silence_id: int) -> Silence | None:
        """Ends the silence now; None when it does not exist."""
        row = await self._pool.fetchrow(
            f"""
            UPDATE silences SET expired_at = coalesce(expired_at, now()) WHERE id = $1
            RETURNING {_COLUMNS}
            """,
            silence_id,
        )
        return None if row is None else Silence.model_validate(dict(row))

    async def is_valid_pattern(self, pattern: str) -> bool:
        """Whether PostgreSQL accepts `pattern` as a regular expression."""
        try:
            await self._pool.fetchval("SELECT '' ~ $1", pattern)
        except asyncpg.InvalidRegularExpressionError:
            return False
        return True
