"""Numbered SQL migrations, applied in order and recorded in `schema_migrations`.

Migration files live in `tracer_core/migrations/NNNN_name.sql`. All pending files apply in
one transaction under a transaction-scoped advisory lock, so replicas that start together
apply each migration exactly once and a crash mid-way leaves the schema unchanged.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from tracer_core.db import connect

log = logging.getLogger(__name__)

# An arbitrary constant that identifies "tracer migrations" among advisory locks.
MIGRATION_LOCK_KEY = 0x7472_6163_6572_0001
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    pass


def available_migrations() -> list[Migration]:
    folder = resources.files("tracer_core") / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a number: {[m.name for m in found]}")
    return found


async def apply_migrations(conn: asyncpg.Connection) -> list[str]:
    """Apply pending migrations on `conn`; returns the names applied (empty when none)."""
    migrations = available_migrations()
    applied_now: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        done = {row["version"]: row for row in rows}
        for migration in migrations:
            previous = done.get(migration.version)
            if previous is not None:
                if previous["checksum"] != migration.checksum:
                    log.warning(
                        "migration %s changed since it was applied; not re-applying",
                        migration.name,
                    )
                continue
            log.info("applying migration %s", migration.name)
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
            applied_now.append(migration.name)
    return applied_now


async def migrate(database_url: str) -> list[str]:
    conn = await connect(database_url, application_name="tracer-migrate")
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()
