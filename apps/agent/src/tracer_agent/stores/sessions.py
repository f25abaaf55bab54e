"""The `console_sessions` table: browser sessions of the console, stored by token digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from tracer_core.models import Role


@dataclass(frozen=True, slots=True)
class SessionRow:
    api_key_id: int
    key_name: str
    key_prefix: str
    role: Role
    csrf_token: str
    expires_at: datetime


class SessionStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(
        self, *, token_hash: str, api_key_id: int, csrf_token: str, lifetime_seconds: float
    ) -> None:
        await self._pool.execute(
            """
            INSERT INTO console_sessions (token_hash, api_key_id, csrf_token, expires_at)
            VALUES ($1, $2, $3, now() + make_interval(secs => $4))
            """,
            token_hash,
            api_key_id,
            csrf_token,
            lifetime_seconds,
        )

    async def find(self, *, token_hash: str) -> SessionRow | None:
        """The live session with this digest, if its key is still valid (a revoked key ends
        its sessions at once)."""
        record = await self._pool.fetchrow(
            """
            SELECT s.api_key_id, k.name, k.prefix, k.role, s.csrf_token, s.expires_at
            FROM console_sessions s JOIN api_keys k ON k.id = s.api_key_id
            WHERE s.token_hash = $1 AND s.expires_at > now() AND k.revoked_at IS NULL
            """,
            token_hash,
        )
        if record is None:
            return None
        return SessionRow(
            api_key_id=record["api_key_id"],
            key_name=record["name"],
            key_prefix=record["prefix"],
            role=Role(record["role"]),
            csrf_token=record["csrf_token"],
            expires_at=record["expires_at"],
        )

    async def delete(self, *, token_hash: str) -> bool:
        status = await self._pool.execute(
            "DELETE FROM console_sessions WHERE token_hash = $1", token_hash
        )
        return status.endswith(" 1")

    async def prune_expired(self) -> int:
        status = await self._pool.execute("DELETE FROM console_sessions WHERE expires_at <= now()")
        return int(status.rsplit(" ", 1)[-1])
