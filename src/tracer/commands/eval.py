"""`tracer eval`: the detector on a seeded labelled corpus, one threshold for all of it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tracer.eval.run import evaluate
from tracer_processor.detection.config import DETECTOR_DEFAULTS as DEFAULTS
from tracer_processor.detection.config import DetectorConfig

console = Console(width=150)
_COLUMNS = ("family", "series", "windows", "detected", "recall", "precision", "median delay",
            "false alarms", "per series-week", "score")  # fmt: skip


def eval_command(
    seed: Annotated[int, typer.Option(help="Seed of the generated corpus.")] = 15,
    per_family: Annotated[int, typer.Option(min=1, help="Series per family.")] = 12,
    days: Annotated[int, typer.Option(min=3, max=60, help="Length of each series.")] = 8,
    score_threshold: Annotated[
        float, typer.Option(min=0.1, help="-log10 tail probability that alerts, for all.")
    ] = DEFAULTS.score_threshold,
) -> None:
    """Score the detector on labelled series: recall, precision, delay, false alarms.

    Families: seasonal, bursty and low-volume counts, level shifts, slow drifts, dropouts,
    heavy-tailed series without incidents, error rates at many volumes, and values of any
    unit: random walks, trends, sparse spikes, huge and tiny scales, quantised values and
    an hourly job.
    """
    result = evaluate(seed, per_family, days, DetectorConfig(score_threshold=score_threshold))
    table = Table(title=f"tracer eval (seed {seed}, threshold {score_threshold:g})")
    for column in _COLUMNS:
        table.add_column(column, justify="left" if column == "family" else "right")
    for name, family in [*result.families.items(), ("overall", result.overall)]:
        table.add_row(
            name,
            str(family.series),
            str(family.windows),
            str(family.detected),
            f"{family.recall:.0%}",
            f"{family.precision:.0%}",
            f"{family.median_delay:.0f} min",
            str(family.false_alarms),
            f"{family.false_per_week:.2f}",
            f"{family.score:.1f}",
        )
    console.print(table)
    rate = result.points / max(result.seconds, 1e-9)
    console.print(f"{result.points:,} points scored in {result.seconds:.1f} s ({rate:,.0f} rows/s)")
