from __future__ import annotations

import asyncio
import subprocess
import sys

import asyncpg

from tracer_core.db import connect
from tracer_core.migrate import apply_migrations, available_migrations, migrate

MIGRATE_ONCE = """
import asyncio, sys
from tracer_core.migrate import migrate
print(len(asyncio.run(migrate(sys.argv[1]))))
"""


async def _applied(url: str) -> list[tuple[int, str]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
        return [(r["version"], r["name"]) for r in rows]
    finally:
        await conn.close()


async def test_migrations_applied_twice_are_a_no_op(empty_database_url: str) -> None:
    first = await migrate(empty_database_url)
    second = await migrate(empty_database_url)
    assert first == [m.name for m in available_migrations()]
    assert second == []
    assert len(await _applied(empty_database_url)) == len(first)


def test_migrations_from_four_processes_apply_once(empty_database_url: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_ONCE, empty_database_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0, 0], outputs
    counts = sorted(int(out.strip().splitlines()[-1]) for out, _ in outputs)
    expected = len(available_migrations())
    # Exactly one process applied everything; the others found nothing left to do.
    assert counts == [0, 0, 0, expected]
    applied = asyncio.run(_applied(empty_database_url))
    assert [name for _, name in applied] == [m.name for m in available_migrations()]


async def test_schema_refuses_two_open_alerts_for_one_fingerprint(database_url: str) -> None:
    conn = await connect(database_url)
    insert = """
        INSERT INTO alerts (fingerprint, project, service, alert_type, severity, title,
                            window_start, window_end)
        VALUES ('p/s/error_spike', 'p', 's', 'error_spike', 'high', 't', now(), now())
    """
    try:
        await conn.execute(insert)
        try:
            await conn.execute(insert)
        except asyncpg.UniqueViolationError:
            pass
        else:
            raise AssertionError("a second open alert for the fingerprint was accepted")
    finally:
        await conn.close()


async def test_apply_migrations_is_transactional(empty_database_url: str) -> None:
    conn = await connect(empty_database_url)
    try:
        await apply_migrations(conn)
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
    finally:
        await conn.close()
    assert {"alerts", "alert_events", "deliveries", "connections", "api_keys"} <= tables
