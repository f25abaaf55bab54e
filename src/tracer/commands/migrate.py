"""`tracer migrate`: bring the database schema up to date."""

from __future__ import annotations

import asyncio

from rich.console import Console

from tracer.commands.errors import user_errors
from tracer.commands.options import DatabaseUrlOption
from tracer_core.embedded import resolve_database_url
from tracer_core.migrate import migrate
from tracer_core.settings import BaseTracerSettings, load_settings

console = Console()


def migrate_command(database_url: DatabaseUrlOption = None) -> None:
    """Apply pending SQL migrations (safe to run from several processes at once)."""
    with user_errors():
        settings = load_settings(BaseTracerSettings, database_url=database_url)
        url, embedded = resolve_database_url(settings.database_url, settings.home)
        try:
            applied = asyncio.run(migrate(url))
        finally:
            if embedded is not None:
                embedded.stop()
    if applied:
        console.print(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        console.print("schema is up to date")
