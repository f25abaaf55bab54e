"""The `deliveries` table as people see it (the API and the chat tools), and the one change
they may make: a retry. Claiming and finishing deliveries is the outbox's (delivery/store.py)."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class DeliveryOverview:
    """Where one event of an alert went, as the chat tools describe it."""

    destination: str
    toolkit: str
    status: str
    attempts: int
    last_error: str | None
    thread_ref: str | None
    event: str


def _record(row: asyncpg.Record) -> DeliveryRecord:
    return DeliveryRecord.model_validate(dict(row))


class DeliveryRecords:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def for_alert(self, *, alert_id: int) -> list[DeliveryRecord]:
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

    async def retry(self, *, delivery_id: int) -> DeliveryRecord | None:
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

    async def get(self, *, delivery_id: int) -> DeliveryRecord | None:
        row = await self._pool.fetchrow(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d WHERE d.id = $1", delivery_id
        )
        return None if row is None else _record(row)

    async def overview_for_alert(self, *, alert_id: int) -> list[DeliveryOverview]:
        records = await self._pool.fetch(
            """
            SELECT d.destination, d.toolkit, d.status, d.attempts, d.last_error,
                   d.result ->> 'thread_ref' AS thread_ref, e.kind AS event
            FROM deliveries d JOIN alert_events e ON e.id = d.event_id
            WHERE d.alert_id = $1 ORDER BY d.id
            """,
            alert_id,
        )
        return [DeliveryOverview(**dict(record)) for record in records]
