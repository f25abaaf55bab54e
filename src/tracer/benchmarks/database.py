"""The PostgreSQL a benchmark section runs on: the server `--database-url` names, or an
embedded one started for the run and stopped after it; most sections work in a scratch
database on that server, dropped afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from tracer.benchmarks import BenchOptions, BenchRow
from tracer.scratch import scratch_database
from tracer_core.embedded import resolve_database_url
from tracer_core.settings import BaseTracerSettings, load_settings

Measure = Callable[[str], Coroutine[Any, Any, list[BenchRow]]]


def on_server(options: BenchOptions, measure: Measure) -> list[BenchRow]:
    """`measure(server_url)` on the section's PostgreSQL server."""
    settings = load_settings(BaseTracerSettings, database_url=options.database_url)
    server_url, embedded = resolve_database_url(settings.database_url, settings.home)
    try:
        return asyncio.run(measure(server_url))
    finally:
        if embedded is not None:
            embedded.stop()


def on_scratch_database(options: BenchOptions, name: str, measure: Measure) -> list[BenchRow]:
    """`measure(database_url)` in a scratch database named after `name` on that server."""

    async def scratch(server_url: str) -> list[BenchRow]:
        async with scratch_database(server_url, name) as database_url:
            return await measure(database_url)

    return on_server(options, scratch)
