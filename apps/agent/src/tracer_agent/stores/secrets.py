"""The `agent_secrets` table: values every agent replica must share, created by the first."""

from __future__ import annotations

import asyncpg


class SecretStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def shared(self, *, name: str, candidate: str) -> str:
        """The secret stored under `name`, storing `candidate` when there is none yet (a
        concurrent insert loses quietly and reads the winner's)."""
        await self._pool.execute(
            "INSERT INTO agent_secrets (name, secret) VALUES ($1, $2) "
            "ON CONFLICT (name) DO NOTHING",
            name,
            candidate,
        )
        stored = await self._pool.fetchval("SELECT secret FROM agent_secrets WHERE name = $1", name)
        if not isinstance(stored, str):
            raise RuntimeError(f"the shared secret {name} is missing from agent_secrets")
        return stored
