"""Turn the configuration and startup errors users can fix into one readable line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from tracer_core.embedded import EmbeddedPostgresError
from tracer_core.migrate import MigrationError
from tracer_core.settings import SettingsError
from tracer_core.startup_errors import DatabaseUnreachableError, PortInUseError

err_console = Console(stderr=True)
UserFacingErrors = (
    SettingsError,
    EmbeddedPostgresError,
    MigrationError,
    DatabaseUnreachableError,
    PortInUseError,
)


def print_error(message: str) -> None:
    """One line on stderr, never wrapped, markup in `message` shown as typed."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except UserFacingErrors as exc:
        print_error(str(exc))
        raise typer.Exit(2) from None


def run_reporting_errors(action: Callable[[], None]) -> None:
    with user_errors():
        action()
