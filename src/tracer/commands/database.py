"""Run one database task for a CLI command: resolve the URL (or start the embedded
PostgreSQL), bring the schema up to date, hand the task a small pool, and clean up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from tracer.commands.errors import user_errors
from tracer_core.db import create_pool
from tracer_core.embedded import resolve_database_url
from tracer_core.migrate import migrate
from tracer_core.settings import BaseTracerSettings, load_settings

T = TypeVar("T")


async def _run(url: str, name: str, task: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    await migrate(url)
    pool = await create_pool(url, min_size=1, max_size=1, application_name=name)
    try:
        return await task(pool)
    finally:
        await pool.close()


def with_pool(
    database_url: str | None, name: str, task: Callable[[asyncpg.Pool], Awaitable[T]]
) -> T:
    with user_errors():
        settings = load_settings(BaseTracerSettings, database_url=database_url)
        url, embedded = resolve_database_url(settings.database_url, settings.home)
        try:
            return asyncio.run(_run(url, name, task))
        finally:
            if embedded is not None:
                embedded.stop()
