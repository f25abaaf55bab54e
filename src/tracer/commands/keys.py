"""`tracer keys create`: make an API key for the agent's HTTP API.

The key is printed once, alone on the last line (so scripts can take it with `tail -n 1`);
only its SHA-256 hash is stored, so a lost key cannot be shown again, only replaced.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from tracer.commands.errors import user_errors
from tracer.commands.options import DatabaseUrlOption
from tracer_agent.auth.keys import NewKey, create_key
from tracer_core.db import create_pool
from tracer_core.embedded import resolve_database_url
from tracer_core.migrate import migrate
from tracer_core.models import Role
from tracer_core.settings import BaseTracerSettings, load_settings

app = typer.Typer(help="Manage API keys for the agent's HTTP API.", no_args_is_help=True)
err_console = Console(stderr=True)


async def _create(database_url: str, role: Role, name: str | None) -> NewKey:
    await migrate(database_url)
    pool = await create_pool(database_url, min_size=1, max_size=1, application_name="tracer-keys")
    try:
        return await create_key(pool, role=role, name=name)
    finally:
        await pool.close()


@app.command("create")
def create(
    role: Annotated[
        Role, typer.Option(help="admin: everything; engineer: chat and reads; ingest: logs only.")
    ],
    name: Annotated[
        str | None, typer.Option(help="Who or what uses the key (default: role-prefix).")
    ] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create a key; it is shown once, on the last line."""
    if name is not None and not name.strip():
        raise typer.BadParameter("--name must not be empty")
    with user_errors():
        settings = load_settings(BaseTracerSettings, database_url=database_url)
        url, embedded = resolve_database_url(settings.database_url, settings.home)
        try:
            new = asyncio.run(_create(url, role, name))
        finally:
            if embedded is not None:
                embedded.stop()
    principal = new.principal
    err_console.print(
        f"created {principal.role.value} key '{principal.name}' (prefix {principal.prefix}); "
        "it is shown once, store it now:"
    )
    typer.echo(new.secret)
