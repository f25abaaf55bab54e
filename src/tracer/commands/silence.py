"""`tracer silence add|list|expire`: silences and maintenance windows, on the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from tracer.commands.database import with_pool
from tracer.commands.options import DatabaseUrlOption
from tracer_agent.stores.silences import Silence, SilenceStore

app = typer.Typer(help="Silence alerts for a while, or every week.", no_args_is_help=True)


def _line(s: Silence) -> str:
    matchers = ", ".join(
        f"{name}{'~' if s.regex else '='}{value}"
        for name, value in (
            ("project", s.project),
            ("service", s.service),
            ("alert_type", s.alert_type),
            ("severity", s.severity),
        )
        if value
    )
    weekly = " weekly" if s.recurrence == "weekly" else ""
    ended = f" expired {s.expired_at:%Y-%m-%d %H:%M}" if s.expired_at else ""
    return (
        f"#{s.id}  {matchers}  {s.starts_at:%Y-%m-%d %H:%M} to {s.ends_at:%Y-%m-%d %H:%M}"
        f"{weekly}{ended}  by {s.creator}: {s.comment}"
    )


@app.command("add")
def add(
    by: Annotated[str, typer.Option("--by", help="Who creates it.")],
    minutes: Annotated[float, typer.Option(help="How long it lasts.", min=1)] = 60,
    service: Annotated[str | None, typer.Option()] = None,
    project: Annotated[str | None, typer.Option()] = None,
    alert_type: Annotated[str | None, typer.Option()] = None,
    severity: Annotated[str | None, typer.Option()] = None,
    regex: Annotated[bool, typer.Option(help="Matchers are regular expressions.")] = False,
    starts_at: Annotated[
        datetime | None, typer.Option(help="Start (UTC) for a window scheduled ahead.")
    ] = None,
    weekly: Annotated[bool, typer.Option(help="Repeat every week.")] = False,
    comment: Annotated[str, typer.Option()] = "",
    database_url: DatabaseUrlOption = None,
) -> None:
    """Silence matching alerts: stored and visible, not notified."""
    if not any((service, project, alert_type, severity)):
        raise typer.BadParameter(
            "give at least one of --service, --project, --alert-type, --severity"
        )
    start = datetime.now(UTC) if starts_at is None else starts_at
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if weekly and minutes >= 7 * 24 * 60:
        raise typer.BadParameter("a weekly window must last under 7 days")
    created = with_pool(
        database_url,
        "tracer-silence",
        lambda pool: SilenceStore(pool).create(
            project=project,
            service=service,
            alert_type=alert_type,
            severity=severity,
            regex=regex,
            starts_at=start,
            ends_at=start + timedelta(minutes=minutes),
            recurrence="weekly" if weekly else "none",
            creator=by,
            comment=comment,
        ),
    )
    typer.echo(_line(created))


@app.command("list")
def list_silences(
    expired: Annotated[bool, typer.Option(help="Include ended silences.")] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    found = with_pool(
        database_url,
        "tracer-silence",
        lambda pool: SilenceStore(pool).list_silences(include_expired=expired),
    )
    for silence in found:
        typer.echo(_line(silence))


@app.command("expire")
def expire(silence_id: int, database_url: DatabaseUrlOption = None) -> None:
    """End a silence now; alerts it held back that are still open are notified then."""
    ended = with_pool(
        database_url,
        "tracer-silence",
        lambda pool: SilenceStore(pool).expire(silence_id=silence_id),
    )
    if ended is None:
        typer.echo(f"silence {silence_id} does not exist", err=True)
        raise typer.Exit(1)
    typer.echo(_line(ended))
