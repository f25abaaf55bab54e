"""The `alert_summaries` table: one summary per alert event, first writer wins."""

from __future__ import annotations

from typing import Any

import asyncpg

from tracer_ai.summary import AlertSummary


class SummaryStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def for_event(self, *, event_id: int) -> AlertSummary | None:
        value = await self._pool.fetchval(
            "SELECT summary FROM alert_summaries WHERE event_id = $1", event_id
        )
        return None if value is None else AlertSummary.model_validate(value)

    async def latest_for_alert(self, *, alert_id: int) -> dict[str, Any] | None:
        """The stored summary of the alert's latest summarised event, as stored."""
        value: dict[str, Any] | None = await self._pool.fetchval(
            "SELECT summary FROM alert_summaries WHERE alert_id = $1 "
            "ORDER BY event_id DESC LIMIT 1",
            alert_id,
        )
        return value

    async def keep_first(
        self, *, event_id: int, alert_id: int, summary: AlertSummary
    ) -> AlertSummary:
        """Store `summary` unless the event has one already; returns the stored one (a replica
        that raced us reads the winner's back)."""
        value = await self._pool.fetchval(
            """
            WITH inserted AS (
                INSERT INTO alert_summaries
                    (event_id, alert_id, source, model, fallback_reason, summary)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (event_id) DO NOTHING
                RETURNING summary
            )
            SELECT summary FROM inserted
            UNION ALL SELECT summary FROM alert_summaries WHERE event_id = $1
            LIMIT 1
            """,
            event_id,
            alert_id,
            summary.source,
            summary.model,
            summary.fallback_reason,
            summary.model_dump(mode="json"),
        )
        assert value is not None
        return AlertSummary.model_validate(value)
