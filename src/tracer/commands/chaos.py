"""`tracer chaos`: run the alert-dedup chaos suite and print its figures.

Processor replicas run as real processes against PostgreSQL (DATABASE_URL, else the embedded
server) in a scratch database that is dropped afterwards; see
`tracer.chaos.runner` for what a trial does. Exits 1 when any trial ends with a
duplicate alert, a lost incident or a wrong outbox.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tracer.chaos.runner import ChaosReport, ChaosRunner
from tracer.commands.errors import user_errors
from tracer.commands.options import DatabaseUrlOption
from tracer.scratch import scratch_database
from tracer_core.embedded import resolve_database_url
from tracer_core.settings import BaseTracerSettings, load_settings

console = Console()


async def _run(
    server_url: str, *, trials: int, seed: int, replicas: int, incidents: int
) -> ChaosReport:
    step = max(1, trials // 10)

    def progress(report: ChaosReport) -> None:
        if report.trials % step == 0 or report.trials == trials:
            console.print(
                f"[dim]{report.trials}/{trials} trials, {report.seconds:.1f} s, "
                f"problems so far: {len(report.problems)}[/]"
            )

    async with scratch_database(server_url, "tracer_chaos") as url:
        runner = ChaosRunner(url, seed=seed, replicas=replicas, incidents=incidents)
        return await runner.run(trials, progress)


def _table(report: ChaosReport) -> Table:
    table = Table(title="tracer chaos")
    table.add_column("figure")
    table.add_column("value", justify="right")
    per_trial = report.seconds / report.trials if report.trials else 0.0
    rows = [
        ("trials", f"{report.trials:,}"),
        ("incidents", f"{report.incidents:,}"),
        ("duplicate alerts", f"{report.duplicates:,}"),
        ("lost incidents", f"{report.lost:,}"),
        ("wrong outbox (missing or repeated events)", f"{report.outbox_errors:,}"),
        ("wrong alert state or counts", f"{report.state_errors:,}"),
        ("replica writers that dropped or failed reports", f"{report.writer_errors:,}"),
        ("replicas SIGKILLed while writing", f"{report.kills:,} of {report.kill_attempts:,} kills"),
        ("connections cut mid-transaction", f"{report.cuts:,}"),
        ("decisions written by surviving replicas", f"{report.decisions:,}"),
        ("retries", f"{report.retries:,}"),
        ("time", f"{report.seconds:,.1f} s ({per_trial * 1000:,.0f} ms per trial)"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def chaos(
    trials: Annotated[int, typer.Option(min=1, help="How many trials to run.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the trial plans (same seed, same plans).")] = 1,
    replicas: Annotated[int, typer.Option(min=3, max=16, help="Replica processes.")] = 4,
    incidents: Annotated[int, typer.Option(min=1, max=50, help="Incidents per trial.")] = 3,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Kill and cut off processor replicas while they write alerts; check one alert per
    incident and each outbox event exactly once; print the figures."""
    with user_errors():
        settings = load_settings(BaseTracerSettings, database_url=database_url)
        url, embedded = resolve_database_url(settings.database_url, settings.home)
        try:
            report = asyncio.run(
                _run(url, trials=trials, seed=seed, replicas=replicas, incidents=incidents)
            )
        finally:
            if embedded is not None:
                embedded.stop()
    console.print(_table(report))
    for problem in report.problems[:20]:
        console.print(f"[red]problem:[/] {problem}")
    if not report.ok:
        raise typer.Exit(1)
