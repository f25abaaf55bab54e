"""Deliveries as the API shows them, and the one change it may make: a retry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from tracer_core.models import Delivery, DeliveryStatus

_DELIVERY_COLUMNS = """
    d.id, d.alert_id, d.event_id, d.destination, d.toolkit, d.status, d.attempts, d.last_error,
    d.result, d.next_attempt_at, d.created_at, d.updated_at, d.target, d.delivered_at
"""


class DeliveryRecord(Delivery):
    target: dict[str, Any]
    delivered_at: datetime | None


def _record(row: asyncpg.Record) -> DeliveryRecord:
    return DeliveryRecord.model_validate(dict(row))


class DeliveryRecords:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def for_alert(self, alert_id: int) -> list[DeliveryRecord]:
        rows = await self._pool.fetch(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d WHERE d.alert_id = $1 ORDER BY d.id",
            alert_id,
        )
        return [_record(row) for row in rows]

    async def list_deliveries(
        self, *, status: DeliveryStatus | None, limit: int
    ) -> list[DeliveryRecord]:
        rows = await self._pool.fetch(
            f"""
            SELECT {_DELIVERY_COLUMNS} FROM deliveries d
            WHERE $1::text IS NULL OR d.status = $1 ORDER BY d.id DESC LIMIT $2
            """,
            None if status is None else status.value,
            limit,
        )
        return [_record(row) for row in rows]

    async def retry(self, delivery_id: int) -> DeliveryRecord | None:
        """Make a dead or failed delivery due now, with a fresh attempt budget."""
        row = await self._pool.fetchrow(
            f"""
            UPDATE deliveries d
            SET status = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now()
            WHERE d.id = $1 AND d.status IN ('dead', 'failed')
            RETURNING {_DELIVERY_COLUMNS}
            """,
            delivery_id,
        )
        return None if row is None else _record(row)

    async def get(self, delivery_id: int) -> DeliveryRecord | None:
        row = await self._pool.fetchrow(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d WHERE d.id = $1", delivery_id
        )
        return None if row is None else _record(row)
