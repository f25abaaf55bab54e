from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg
import pytest

from tracer_core.embedded import EmbeddedPostgres, EmbeddedPostgresError


async def _run(url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        if ";" in sql.strip().rstrip(";"):
            await conn.execute(sql)
            return []
        return await conn.fetch(sql)
    finally:
        await conn.close()


def _postmaster_pid(pgdata: Path) -> int | None:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return None
    return int(pidfile.read_text().splitlines()[0])


def _alive(pid: int) -> bool:
    """Running, not a zombie left for an init that does not reap (as in containers)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_embedded_server_starts_stops_and_keeps_data(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path)
    url = server.start()
    asyncio.run(_run(url, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42);"))
    pid = _postmaster_pid(server.pgdata)
    assert pid is not None
    server.stop()
    assert not _alive(pid), "the server should stop when its last handle is released"

    again = EmbeddedPostgres(tmp_path)
    url = again.start()
    try:
        rows = asyncio.run(_run(url, "SELECT v FROM kept"))
        assert [r["v"] for r in rows] == [42]
    finally:
        again.stop()


def test_locked_data_directory_is_reported_clearly(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    (pgdata / "PG_VERSION").write_text("16\n")
    # A live process that is not PostgreSQL holds the lock file: this test process.
    (pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{pgdata}\n")
    with pytest.raises(EmbeddedPostgresError, match=r"is locked by process \d+"):
        EmbeddedPostgres(tmp_path).start()


def test_damaged_data_directory_is_reported_clearly(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    (pgdata / "base").mkdir()
    with pytest.raises(EmbeddedPostgresError, match="damaged"):
        EmbeddedPostgres(tmp_path).start()
