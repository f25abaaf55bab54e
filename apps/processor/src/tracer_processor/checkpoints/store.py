"""The baseline checkpoint store: the processor's only queries on `baseline_checkpoints`.

Saves are one statement per batch of services (arrays unnested server-side), and never move
a service's checkpoint backwards: a replica that is behind does not overwrite a newer one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from asyncpg.pool import PoolConnectionProxy

_SAVE = """
INSERT INTO baseline_checkpoints AS c (project, service, bucket_end, state, saved_by)
SELECT project, service, bucket_end, state, $5
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bytea[])
    AS u(project, service, bucket_end, state)
ON CONFLICT (project, service) DO UPDATE
SET bucket_end = EXCLUDED.bucket_end, state = EXCLUDED.state, saved_by = EXCLUDED.saved_by,
    saved_at = now()
WHERE c.bucket_end <= EXCLUDED.bucket_end
"""
_LOAD = """
SELECT project, service, bucket_end, state FROM baseline_checkpoints
WHERE bucket_end >= $1
ORDER BY bucket_end DESC, project, service
LIMIT $2
"""
_PAGE = """
SELECT project, service, bucket_end, state, saved_at FROM baseline_checkpoints
WHERE ($1::text IS NULL OR project = $1) AND ($2::text IS NULL OR service = $2)
  AND ($3::text IS NULL OR (project, service) > ($3, $4))
ORDER BY project, service
LIMIT $5
"""
_PRUNE = "DELETE FROM baseline_checkpoints WHERE bucket_end < $1"


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    project: str
    service: str
    bucket_end: datetime  # event time the saved state has scored up to
    state: bytes


@dataclass(frozen=True, slots=True)
class SavedCheckpoint:
    checkpoint: StoredCheckpoint
    saved_at: datetime  # database time of the write


class CheckpointStore:
    def __init__(
        self, pool: asyncpg.Pool | PoolConnectionProxy[asyncpg.Record], *, saved_by: str
    ) -> None:
        self._pool = pool
        self._saved_by = saved_by

    async def save(self, checkpoints: Sequence[StoredCheckpoint]) -> None:
        """Upsert a batch of checkpoints (services unique within the batch) in one statement."""
        if not checkpoints:
            return
        await self._pool.execute(
            _SAVE,
            [c.project for c in checkpoints],
            [c.service for c in checkpoints],
            [c.bucket_end for c in checkpoints],
            [c.state for c in checkpoints],
            self._saved_by,
        )

    async def load(self, *, since: datetime, limit: int) -> list[StoredCheckpoint]:
        """Checkpoints whose last bucket ended at or after `since`, newest first."""
        rows = await self._pool.fetch(_LOAD, since, limit)
        return [
            StoredCheckpoint(r["project"], r["service"], r["bucket_end"], bytes(r["state"]))
            for r in rows
        ]

    async def page(
        self,
        *,
        project: str | None,
        service: str | None,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[SavedCheckpoint]:
        """Checkpoints in (project, service) order after the key `after`, optionally of one
        project or service (the services view of a process that holds no detector state)."""
        rows = await self._pool.fetch(
            _PAGE, project, service, after[0] if after else None, after[1] if after else "", limit
        )
        return [
            SavedCheckpoint(
                StoredCheckpoint(r["project"], r["service"], r["bucket_end"], bytes(r["state"])),
                r["saved_at"],
            )
            for r in rows
        ]

    async def prune(self, *, before: datetime) -> int:
        """Forget checkpoints too old to be restored; returns how many."""
        status = await self._pool.execute(_PRUNE, before)
        return int(status.rsplit(" ", 1)[-1])
