"""The migrations leave exactly the schema recorded in tracer_core/sql/schema.sql, whether a
database is new or was migrated when the decision functions still lived in 0010 and 0011."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import asyncpg
import pytest

from tracer_core.db import connect
from tracer_core.migrate import available_functions, available_migrations, migrate
from tracer_core.schema_dump import SCHEMA_FILE, dump_schema

OLD_MIGRATIONS = Path(__file__).parent / "old_migrations"


async def _schema(url: str) -> str:
    conn = await connect(url)
    try:
        return await dump_schema(conn)
    finally:
        await conn.close()


def _assert_recorded(schema: str, server_url: str) -> None:
    assert schema == SCHEMA_FILE.read_text("utf-8"), (
        f"{SCHEMA_FILE.name} is out of date; regenerate it with: "
        f"uv run python -m tracer_core.schema_dump {server_url}"
    )


async def test_migrations_leave_the_recorded_schema(
    empty_database_url: str, pg_server_url: str
) -> None:
    await migrate(empty_database_url)
    _assert_recorded(await _schema(empty_database_url), pg_server_url)


async def _migrate_at_old_head(url: str) -> None:
    """What the migrator did before functions had their own files: 0010 and 0011 as they
    were released, recorded with their checksums then."""
    old = {path.name: path.read_text("utf-8") for path in OLD_MIGRATIONS.glob("*.sql")}
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
            "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in available_migrations():
            sql = old.get(migration.name, migration.sql)
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                hashlib.sha256(sql.encode()).hexdigest(),
            )
    finally:
        await conn.close()


async def test_a_database_migrated_at_the_old_head_upgrades_quietly(
    empty_database_url: str, pg_server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await _migrate_at_old_head(empty_database_url)
    with caplog.at_level(logging.WARNING, logger="tracer_core.migrate"):
        applied = await migrate(empty_database_url)
    assert applied == []
    assert not caplog.records
    conn = await asyncpg.connect(empty_database_url)
    try:
        recorded = {
            r["version"]: r["checksum"]
            for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
    finally:
        await conn.close()
    assert recorded == {m.version: m.checksum for m in available_migrations()}
    _assert_recorded(await _schema(empty_database_url), pg_server_url)


async def test_a_changed_function_file_is_applied_again(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DROP FUNCTION tracer_lock_fingerprint(text)")
        await conn.execute(
            "UPDATE schema_functions SET checksum = 'edited' WHERE name = 'tracer_lock_fingerprint'"
        )
        assert await migrate(database_url) == []
        await conn.execute("SELECT tracer_lock_fingerprint('p/s/error_spike')")
    finally:
        await conn.close()


async def test_an_unchanged_function_is_not_applied_again(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        before = await conn.fetch("SELECT name, applied_at FROM schema_functions ORDER BY name")
        await migrate(database_url)
        after = await conn.fetch("SELECT name, applied_at FROM schema_functions ORDER BY name")
    finally:
        await conn.close()
    assert [tuple(r) for r in before] == [tuple(r) for r in after]
    assert len(before) == len(available_functions())
