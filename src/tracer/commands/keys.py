"""`tracer keys create|list|revoke`: the API keys of the agent's HTTP API.

The key is printed once, alone on the last line (so scripts can take it with `tail -n 1`);
only its SHA-256 hash is stored, so a lost key cannot be shown again, only replaced.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from tracer.commands.database import with_pool
from tracer.commands.options import DatabaseUrlOption
from tracer_agent.auth.keys import NewKey, create_key, revoke_key
from tracer_agent.stores.api_keys import ApiKeyStore
from tracer_core.models import Role

app = typer.Typer(help="Manage API keys for the agent's HTTP API.", no_args_is_help=True)
err_console = Console(stderr=True)


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
    new: NewKey = with_pool(
        database_url, "tracer-keys", lambda pool: create_key(pool, role=role, name=name)
    )
    principal = new.principal
    err_console.print(
        f"created {principal.role.value} key '{principal.name}' (prefix {principal.prefix}); "
        "it is shown once, store it now:"
    )
    typer.echo(new.secret)


@app.command("list")
def list_keys(database_url: DatabaseUrlOption = None) -> None:
    """Every key: prefix, role, name, created, last used, revoked (never the secret)."""
    keys = with_pool(database_url, "tracer-keys", lambda pool: ApiKeyStore(pool).list_keys())
    for key in keys:
        used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        typer.echo(
            f"{key.prefix}  {key.role.value:8}  {key.name}  created "
            f"{key.created_at:%Y-%m-%d}  last used {used}  {state}"
        )


@app.command("revoke")
def revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix, as `tracer keys list` shows.")],
    database_url: DatabaseUrlOption = None,
) -> None:
    """Revoke a key: requests with it are refused from now on."""
    revoked = with_pool(database_url, "tracer-keys", lambda pool: revoke_key(pool, prefix=prefix))
    if not revoked:
        err_console.print(f"no active key with prefix {prefix}")
        raise typer.Exit(1)
    typer.echo(f"revoked {prefix}")
