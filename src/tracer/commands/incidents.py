"""`tracer incidents list|ack|resolve`: incidents from the command line, on the database."""

from __future__ import annotations

from typing import Annotated

import typer

from tracer.commands.database import with_pool
from tracer.commands.options import DatabaseUrlOption
from tracer_agent.stores.incidents import ChangeOutcome, Incident, IncidentStore

app = typer.Typer(help="List, acknowledge and resolve incidents.", no_args_is_help=True)
ByOption = Annotated[str, typer.Option("--by", help="Who does it (recorded in the timeline).")]


def _line(incident: Incident) -> str:
    ack = f"  acknowledged by {incident.acknowledged_by}" if incident.acknowledged_by else ""
    return (
        f"#{incident.id}  {incident.status:8}  {incident.severity:8}  "
        f"{incident.project}/{incident.service}  opened {incident.opened_at:%Y-%m-%d %H:%M}{ack}"
    )


@app.command("list")
def list_incidents(
    status: Annotated[str | None, typer.Option(help="open or resolved")] = None,
    service: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Newest first."""
    found = with_pool(
        database_url,
        "tracer-incidents",
        lambda pool: IncidentStore(pool).list_incidents(
            status=status, service=service, since=None, limit=limit
        ),
    )
    for incident in found:
        typer.echo(_line(incident))


def _report(incident_id: int, outcome: ChangeOutcome, done: str) -> None:
    if outcome.incident is None:
        typer.echo(f"incident {incident_id} does not exist", err=True)
        raise typer.Exit(1)
    typer.echo(_line(outcome.incident) if outcome.changed else f"#{incident_id} was already {done}")


@app.command("ack")
def ack(incident_id: int, by: ByOption, database_url: DatabaseUrlOption = None) -> None:
    """Acknowledge: stops re-notification."""
    outcome = with_pool(
        database_url,
        "tracer-incidents",
        lambda pool: IncidentStore(pool).acknowledge(incident_id=incident_id, actor=by),
    )
    _report(incident_id, outcome, "acknowledged")


@app.command("resolve")
def resolve(incident_id: int, by: ByOption, database_url: DatabaseUrlOption = None) -> None:
    """Resolve by hand; a still-anomalous service opens a new incident only after recovering."""
    outcome = with_pool(
        database_url,
        "tracer-incidents",
        lambda pool: IncidentStore(pool).resolve(incident_id=incident_id, actor=by),
    )
    _report(incident_id, outcome, "resolved")
