"""The `connections` table: which app each user connected, and the status the tool router
last reported for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from tracer_core.models import ConnectionScope, ConnectionStatus, Toolkit

_COLUMNS = "id, user_id, toolkit, scope, status, redirect_url, created_by, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class StoredConnection:
    id: str
    user_id: str
    toolkit: Toolkit
    scope: ConnectionScope
    status: ConnectionStatus
    redirect_url: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime


def _connection(row: asyncpg.Record) -> StoredConnection:
    return StoredConnection(
        id=row["id"],
        user_id=row["user_id"],
        toolkit=Toolkit(row["toolkit"]),
        scope=ConnectionScope(row["scope"]),
        status=ConnectionStatus(row["status"]),
        redirect_url=row["redirect_url"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class ConnectionStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def visible_to(self, *, user_ids: list[str]) -> list[StoredConnection]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM connections WHERE user_id = ANY($1::text[]) "
            "ORDER BY created_at, id",
            user_ids,
        )
        return [_connection(row) for row in rows]

    async def get(self, *, connection_id: str) -> StoredConnection | None:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM connections WHERE id = $1", connection_id
        )
        return None if row is None else _connection(row)

    async def active_for(self, *, user_id: str, toolkit: Toolkit) -> StoredConnection | None:
        row = await self._pool.fetchrow(
            f"""
            SELECT {_COLUMNS} FROM connections
            WHERE user_id = $1 AND toolkit = $2 AND status = 'ACTIVE'
            ORDER BY created_at DESC LIMIT 1
            """,
            user_id,
            toolkit.value,
        )
        return None if row is None else _connection(row)

    async def add(
        self,
        *,
        connection_id: str,
        user_id: str,
        toolkit: Toolkit,
        scope: ConnectionScope,
        status: ConnectionStatus,
        redirect_url: str | None,
        created_by: str,
    ) -> StoredConnection:
        row = await self._pool.fetchrow(
            f"""
            INSERT INTO connections (id, user_id, toolkit, scope, status, redirect_url, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,
                redirect_url = EXCLUDED.redirect_url, updated_at = now()
            RETURNING {_COLUMNS}
            """,
            connection_id,
            user_id,
            toolkit.value,
            scope.value,
            status.value,
            redirect_url,
            created_by,
        )
        assert row is not None
        return _connection(row)

    async def set_status(
        self, *, connection_id: str, status: ConnectionStatus
    ) -> StoredConnection | None:
        row = await self._pool.fetchrow(
            f"""
            UPDATE connections SET status = $2, updated_at = now()
            WHERE id = $1 RETURNING {_COLUMNS}
            """,
            connection_id,
            status.value,
        )
        return None if row is None else _connection(row)

    async def delete(self, *, connection_id: str) -> bool:
        status = await self._pool.execute("DELETE FROM connections WHERE id = $1", connection_id)
        return status.endswith(" 1")
