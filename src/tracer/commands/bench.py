"""`tracer bench`: run the benchmark sections and print one table of figures."""

from __future__ import annotations

import importlib
from typing import Annotated, cast

import typer
from rich.console import Console
from rich.table import Table

from tracer.benchmarks import SECTIONS, BenchOptions, BenchRow, Section
from tracer.commands.errors import user_errors
from tracer.commands.options import DatabaseUrlOption

console = Console()


def _load(spec: str) -> Section:
    module_name, _, function = spec.partition(":")
    return cast(Section, getattr(importlib.import_module(module_name), function))


def bench(
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only these sections (repeatable).")
    ] = None,
    quick: Annotated[bool, typer.Option(help="Smaller runs; indicative figures only.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for generated traffic.")] = 7,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Measure throughput, latency and memory; prints a table with targets."""
    chosen = only or list(SECTIONS)
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        raise typer.BadParameter(f"unknown section(s) {unknown}; known: {sorted(SECTIONS)}")
    options = BenchOptions(database_url=database_url, quick=quick, seed=seed)
    rows: list[BenchRow] = []
    with user_errors():
        for name in chosen:
            console.print(f"[dim]running {name}…[/]")
            rows.extend(_load(SECTIONS[name])(options))
    table = Table(title="tracer bench" + (" (quick)" if quick else ""))
    for column in ("section", "metric", "value", "unit", "target", "met"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "[red]NO[/]")
        table.add_row(row.section, row.metric, f"{row.value:,.2f}", row.unit, row.target, met)
    console.print(table)
