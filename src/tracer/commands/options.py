"""Options that several sub-commands share, so each reads the same everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="DATABASE_URL",
        help="PostgreSQL URL. Unset: the embedded PostgreSQL under TRACER_HOME.",
        show_envvar=True,
    ),
]
HostOption = Annotated[str | None, typer.Option("--host", help="Address to listen on.")]
PortOption = Annotated[int | None, typer.Option("--port", help="Port to listen on.")]
