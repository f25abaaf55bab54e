"""The asyncpg connection pool, with JSON codecs so jsonb columns read and write Python
objects. Every module that talks to PostgreSQL goes through a pool made here."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


async def create_pool(
    database_url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    application_name: str = "tracer",
    command_timeout: float | None = 30.0,
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        command_timeout=command_timeout,
        server_settings={"application_name": application_name},
    )
    if pool is None:  # only None when the pool is created lazily, which we never ask for
        raise RuntimeError("asyncpg returned no pool")
    return pool


async def connect(
    database_url: str, *, application_name: str = "tracer", connect_timeout_s: float = 60.0
) -> asyncpg.Connection:
    conn = await asyncpg.connect(
        database_url,
        server_settings={"application_name": application_name},
        timeout=connect_timeout_s,
    )
    await init_connection(conn)
    return conn


def with_database(database_url: str, database: str) -> str:
    """The same server URL pointing at another database (works for TCP and socket URLs)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(database_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))
