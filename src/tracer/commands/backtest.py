"""`tracer backtest IN.csv --out OUT.csv`: the processor's detector over one series."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tracer.commands.errors import err_console
from tracer_processor.detection.backtest import BacktestError, Kind, run_backtest
from tracer_processor.detection.config import DETECTOR_DEFAULTS as DEFAULTS
from tracer_processor.detection.config import DetectorConfig

console = Console()


def backtest(
    source: Annotated[
        Path,
        typer.Argument(
            help="CSV with a header row naming timestamp and value columns.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write the scored CSV.")],
    kind: Annotated[Kind, typer.Option(help="What the value measures.")] = Kind.COUNT,
    bucket_seconds: Annotated[
        float | None,
        typer.Option(min=0.001, help="Bucket width; default: the series' usual spacing."),
    ] = None,
    window_buckets: Annotated[int, typer.Option(min=2, help="Rolling baseline length.")] = (
        DEFAULTS.window_buckets
    ),
    warmup_buckets: Annotated[int, typer.Option(min=1, help="Buckets before alerting.")] = (
        DEFAULTS.warmup_buckets
    ),
    z_threshold: Annotated[float, typer.Option(min=0.1, help="Deviations that alert.")] = (
        DEFAULTS.z_threshold
    ),
    min_count: Annotated[
        int, typer.Option(min=1, help="count: the usual value below which drops are ignored.")
    ] = DEFAULTS.min_count,
) -> None:
    """Score a timestamp,value series with the streaming detector.

    Writes timestamp,value,score,is_anomaly,reason: one row per input row, in order.
    """
    if warmup_buckets > window_buckets:
        raise typer.BadParameter("--warmup-buckets cannot exceed --window-buckets")
    config = DetectorConfig(
        window_buckets=window_buckets,
        warmup_buckets=warmup_buckets,
        z_threshold=z_threshold,
        min_count=min_count,
    )
    try:
        summary = run_backtest(source, out, kind=kind, bucket_seconds=bucket_seconds, config=config)
    except (BacktestError, UnicodeDecodeError) as exc:
        err_console.print(f"[bold red]error:[/] {source}: {exc}")
        raise typer.Exit(2) from None
    console.print(
        f"scored {summary.rows} rows in {summary.buckets} buckets of "
        f"{summary.bucket_seconds:g} s: {summary.anomalies} anomalous, "
        f"{summary.invalid} unreadable -> {out}"
    )
