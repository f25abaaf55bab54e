"""A throw-away, migrated database on a PostgreSQL server, for the benchmarks and the chaos
suite: they hammer the alert tables and must never touch the database users keep."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from tracer_core.db import with_database
from tracer_core.migrate import migrate

log = logging.getLogger(__name__)

_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


async def _admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def scratch_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """Create `<prefix>_<random>` on the server of `server_url`, migrate it, yield its URL,
    and drop it afterwards (also after an error or Ctrl-C)."""
    if not _PREFIX.match(prefix):
        raise ValueError(f"scratch database prefix {prefix!r} must be a lowercase identifier")
    name = f"{prefix}_{secrets.token_hex(4)}"
    await _admin(server_url, f"CREATE DATABASE {name}")
    url = with_database(server_url, name)
    try:
        await migrate(url)
        log.info("scratch database %s ready", name)
        yield url
    finally:
        await _admin(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
