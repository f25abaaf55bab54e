"""Numbered SQL migrations, applied in order and recorded in `schema_migrations`.

Migration files live in `tracer_core/migrations/NNNN_name.sql`. All pending files apply in
one transaction under a transaction-scoped advisory lock, so replicas that start together
apply each migration exactly once and a crash mid-way leaves the schema unchanged.

SQL functions are not migrations: each lives in `tracer_core/sql/functions/<name>.sql` as a
`CREATE OR REPLACE FUNCTION` and is applied, in the same transaction, after the numbered
migrations whenever its file changed (recorded in `schema_functions`) or a migration ran.
Changing a function therefore means editing its file, never copying it into a new migration.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from tracer_core.db import connect
from tracer_core.startup_errors import (
    CONNECT_FAILURES,
    DatabaseUnreachableError,
    describe_connect_failure,
)

log = logging.getLogger(__name__)

# An arbitrary constant that identifies "tracer migrations" among advisory locks.
MIGRATION_LOCK_KEY = 0x7472_6163_6572_0001
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_FUNCTION_NAME = re.compile(r"^[a-z0-9_]+\.sql$")

# Checksums a migration had before its text changed without changing the schema it leaves:
# 0010 and 0011 created the decision functions that now live in sql/functions/. A database
# that applied those earlier texts is up to date; its records are brought to the new checksums.
EARLIER_CHECKSUMS: dict[int, frozenset[str]] = {
    10: frozenset({"58de7f505aea336608047e1d1c943152ca3b5cae6d07e2ab325a386d5abf7ab9"}),
    11: frozenset({"54e979ca7357dbf93aadf643c9b9756be66cbb8b6047f06f058d2be3256b335b"}),
}


def _checksum(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return _checksum(self.sql)

    @property
    def has_statements(self) -> bool:
        return any(
            line.strip() and not line.lstrip().startswith("--") for line in self.sql.splitlines()
        )


@dataclass(frozen=True, slots=True)
class SqlFunction:
    """One function file: `name` is the file name without `.sql`."""

    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return _checksum(self.sql)


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


def available_functions() -> list[SqlFunction]:
    folder = resources.files("tracer_core") / "sql" / "functions"
    found = [
        SqlFunction(entry.name.removesuffix(".sql"), entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if _FUNCTION_NAME.match(entry.name)
    ]
    return sorted(found, key=lambda f: f.name)


async def apply_migrations(conn: asyncpg.Connection) -> list[str]:
    """Apply pending migrations, then changed functions, on `conn`; returns the names of the
    migrations applied (empty when none)."""
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
                await _check_applied(conn, migration, previous["checksum"])
                continue
            log.info("applying migration %s", migration.name)
            if migration.has_statements:  # a comment-only file is an empty query to asyncpg
                await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
            applied_now.append(migration.name)
        await _apply_functions(conn, force=bool(applied_now))
    return applied_now


async def _check_applied(conn: asyncpg.Connection, migration: Migration, checksum: str) -> None:
    if checksum == migration.checksum:
        return
    if checksum in EARLIER_CHECKSUMS.get(migration.version, frozenset()):
        log.info("migration %s was applied in an earlier, equivalent text", migration.name)
        await conn.execute(
            "UPDATE schema_migrations SET checksum = $2 WHERE version = $1",
            migration.version,
            migration.checksum,
        )
        return
    log.warning("migration %s changed since it was applied; not re-applying", migration.name)


async def _apply_functions(conn: asyncpg.Connection, *, force: bool) -> None:
    """(Re)create the functions whose file changed, or all of them after a migration ran (it
    may have dropped or altered what they depend on)."""
    await conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_functions (
            name text PRIMARY KEY,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    rows = await conn.fetch("SELECT name, checksum FROM schema_functions")
    recorded = {row["name"]: row["checksum"] for row in rows}
    for function in available_functions():
        if not force and recorded.get(function.name) == function.checksum:
            continue
        log.info("applying function %s", function.name)
        await conn.execute(function.sql)
        await conn.execute(
            """
            INSERT INTO schema_functions (name, checksum) VALUES ($1, $2)
            ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()
            """,
            function.name,
            function.checksum,
        )


async def migrate(database_url: str) -> list[str]:
    """Apply pending migrations; `DatabaseUnreachableError` when the URL cannot be used."""
    try:
        conn = await connect(
            database_url, application_name="tracer-migrate", connect_timeout_s=15.0
        )
    except CONNECT_FAILURES as exc:
        raise DatabaseUnreachableError(describe_connect_failure(exc, database_url)) from None
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()
