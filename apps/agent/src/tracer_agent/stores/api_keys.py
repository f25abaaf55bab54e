"""The `api_keys` table: keys stored by prefix and SHA-256 digest, never in clear."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from tracer_core.models import Role

_COLUMNS = "id, name, role, prefix, created_at"
# Writing last_used_at on every request would turn each read into a write.
_LAST_USED_RESOLUTION = "1 minute"


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKeyListing:
    """A key as lists show it: never its secret or digest."""

    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _row(record: asyncpg.Record) -> ApiKeyRow:
    return ApiKeyRow(
        id=record["id"],
        name=record["name"],
        role=Role(record["role"]),
        prefix=record["prefix"],
        created_at=record["created_at"],
    )


class ApiKeyStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(self, *, name: str, role: Role, prefix: str, key_hash: str) -> ApiKeyRow:
        """Raises asyncpg.UniqueViolationError when the prefix is taken."""
        record = await self._pool.fetchrow(
            f"""
            INSERT INTO api_keys (name, role, prefix, key_hash) VALUES ($1, $2, $3, $4)
            RETURNING {_COLUMNS}
            """,
            name,
            role.value,
            prefix,
            key_hash,
        )
        assert record is not None
        return _row(record)

    async def find_active(self, *, key_hash: str) -> ApiKeyRow | None:
        """The unrevoked key with this digest, noting its use at most once a minute."""
        record = await self._pool.fetchrow(
            f"""
            UPDATE api_keys SET last_used_at = now()
            WHERE key_hash = $1 AND revoked_at IS NULL
              AND (last_used_at IS NULL
                   OR last_used_at < now() - interval '{_LAST_USED_RESOLUTION}')
            RETURNING {_COLUMNS}
            """,
            key_hash,
        )
        if record is None:
            record = await self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
                key_hash,
            )
        return None if record is None else _row(record)

    async def list_keys(self) -> list[ApiKeyListing]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS}, last_used_at, revoked_at FROM api_keys ORDER BY id"
        )
        return [
            ApiKeyListing(
                id=r["id"],
                name=r["name"],
                role=Role(r["role"]),
                prefix=r["prefix"],
                created_at=r["created_at"],
                last_used_at=r["last_used_at"],
                revoked_at=r["revoked_at"],
            )
            for r in rows
        ]

    async def revoke(self, *, prefix: str) -> bool:
        status = await self._pool.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE prefix = $1 AND revoked_at IS NULL",
            prefix,
        )
        return status.endswith(" 1")
