"""Partition leases in PostgreSQL, with fencing tokens (migration 0090).

Membership is a heartbeat row per processor; ownership is one row per partition, held
until `expires_at` (database clock) and renewed well before. Taking a partition over bumps
its `token`; `save_cursor` writes only while the caller's token is still the current one,
in the same transaction as the partition's baseline checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from tracer_processor.checkpoints.store import CheckpointStore, StoredCheckpoint

_SEED = """
INSERT INTO partition_leases (partition) SELECT generate_series(0, $1 - 1)
ON CONFLICT (partition) DO NOTHING
"""
_HEARTBEAT = """
INSERT INTO cluster_members (member_id) VALUES ($1)
ON CONFLICT (member_id) DO UPDATE SET seen_at = now()
"""
_MEMBERS = """
SELECT member_id FROM cluster_members
WHERE seen_at > now() - make_interval(secs => $1) ORDER BY member_id
"""
_ACQUIRE = """
UPDATE partition_leases
SET owner = $2, token = token + 1, expires_at = now() + make_interval(secs => $3),
    updated_at = now()
WHERE partition = ANY($1::int[]) AND (owner IS NULL OR expires_at < now() OR owner = $2)
RETURNING partition, token, resume_seq, folded
"""
_RENEW = """
UPDATE partition_leases AS l
SET expires_at = now() + make_interval(secs => $3)
FROM unnest($1::int[], $2::bigint[]) AS held(partition, token)
WHERE l.partition = held.partition AND l.token = held.token AND l.owner = $4
RETURNING l.partition
"""
_RELEASE = """
UPDATE partition_leases SET owner = NULL, expires_at = '-infinity', updated_at = now()
WHERE partition = $1 AND token = $2
"""
_FENCE = "SELECT token FROM partition_leases WHERE partition = $1 AND owner = $2 FOR UPDATE"
_CURSOR = """
UPDATE partition_leases SET resume_seq = $3, folded = $4, updated_at = now()
WHERE partition = $1 AND token = $2
"""
_LEAVE = "DELETE FROM cluster_members WHERE member_id = $1"


@dataclass(frozen=True, slots=True)
class Lease:
    partition: int
    token: int
    resume_seq: int
    folded: int


class LeaseLostError(Exception):
    """The partition's lease moved to another processor: stop working on it."""


class LeaseStore:
    def __init__(self, pool: asyncpg.Pool, *, member_id: str, lease_seconds: float) -> None:
        self._pool = pool
        self.member_id = member_id
        self.lease_seconds = lease_seconds

    async def seed(self, partitions: int) -> None:
        await self._pool.execute(_SEED, partitions)

    async def heartbeat(self) -> list[str]:
        """Record this member as alive; returns the live members, sorted."""
        async with self._pool.acquire() as conn:
            await conn.execute(_HEARTBEAT, self.member_id)
            rows = await conn.fetch(_MEMBERS, self.lease_seconds)
        return [str(r["member_id"]) for r in rows]

    async def leave(self) -> None:
        await self._pool.execute(_LEAVE, self.member_id)

    async def acquire(self, partitions: Sequence[int]) -> list[Lease]:
        """Take the partitions that are free or whose owner's lease expired."""
        if not partitions:
            return []
        rows = await self._pool.fetch(
            _ACQUIRE, list(partitions), self.member_id, self.lease_seconds
        )
        return [
            Lease(r["partition"], r["token"], r["resume_seq"], r["folded"])
            for r in sorted(rows, key=lambda r: int(r["partition"]))
        ]

    async def renew(self, held: dict[int, int]) -> set[int]:
        """Extend the leases still held with these tokens; returns their partitions."""
        if not held:
            return set()
        rows = await self._pool.fetch(
            _RENEW, list(held), list(held.values()), self.lease_seconds, self.member_id
        )
        return {int(r["partition"]) for r in rows}

    async def release(self, partition: int, token: int) -> None:
        await self._pool.execute(_RELEASE, partition, token)

    async def save_cursor(
        self,
        partition: int,
        token: int,
        *,
        checkpoints: Sequence[StoredCheckpoint],
        resume_seq: int,
        folded: int,
    ) -> None:
        """Write a partition's checkpoints and cursor at once, only while still its owner."""
        async with self._pool.acquire() as conn, conn.transaction():
            current = await conn.fetchval(_FENCE, partition, self.member_id)
            if current != token:
                raise LeaseLostError(f"partition {partition} has a new owner")
            await CheckpointStore(conn, saved_by=self.member_id).save(checkpoints)
            await conn.execute(_CURSOR, partition, token, resume_seq, folded)
