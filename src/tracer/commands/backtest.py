"""`tracer backtest IN.csv... --out OUT`: the processor's detector over one or many series."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tracer.commands.errors import err_console
from tracer_processor.detection.backtest import BacktestError, Kind
from tracer_processor.detection.backtest_files import run_backtests
from tracer_processor.detection.config import DETECTOR_DEFAULTS as DEFAULTS
from tracer_processor.detection.config import DetectorConfig

console = Console()


def _inputs(sources: list[Path]) -> list[Path]:
    """Files as given, folders as the CSV files directly inside them (sorted)."""
    found: list[Path] = []
    for source in sources:
        found.extend(sorted(source.glob("*.csv")) if source.is_dir() else [source])
    return found


def _outputs(inputs: list[Path], out: Path) -> list[Path]:
    """One input and an `--out` that is not a folder: that file. Otherwise one file per
    input, same name, inside the `--out` folder (created)."""
    if len(inputs) == 1 and not out.is_dir() and out.suffix:
        return [out]
    names = [source.name for source in inputs]
    if len(set(names)) != len(names):
        raise typer.BadParameter("inputs share a file name; --out DIR would overwrite one")
    out.mkdir(parents=True, exist_ok=True)
    return [out / name for name in names]


def backtest(
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="CSV files (or folders of them) with a header naming timestamp and value.",
            exists=True,
            readable=True,
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Scored CSV (one input) or folder (many inputs).")
    ],
    kind: Annotated[
        Kind, typer.Option(help="What the value measures; `value`: any metric, both ways.")
    ] = Kind.COUNT,
    bucket_seconds: Annotated[
        float | None,
        typer.Option(min=0.001, help="Bucket width; default: each series' usual spacing."),
    ] = None,
    window_buckets: Annotated[int, typer.Option(min=2, help="Rolling baseline length.")] = (
        DEFAULTS.window_buckets
    ),
    warmup_buckets: Annotated[int, typer.Option(min=1, help="Buckets before alerting.")] = (
        DEFAULTS.warmup_buckets
    ),
    score_threshold: Annotated[
        float, typer.Option(min=0.1, help="-log10 tail probability that alerts.")
    ] = DEFAULTS.score_threshold,
    min_count: Annotated[
        int, typer.Option(min=1, help="count: the usual value below which drops are ignored.")
    ] = DEFAULTS.min_count,
) -> None:
    """Score timestamp,value series with the streaming detector, all stepped together.

    Writes timestamp,value,score,is_anomaly,reason: one row per input row, in order.
    """
    if warmup_buckets > window_buckets:
        raise typer.BadParameter("--warmup-buckets cannot exceed --window-buckets")
    config = DetectorConfig(
        window_buckets=window_buckets,
        warmup_buckets=warmup_buckets,
        score_threshold=score_threshold,
        min_count=min_count,
    )
    inputs = _inputs(sources)
    if not inputs:
        raise typer.BadParameter("no CSV files among the inputs")
    outputs = _outputs(inputs, out)
    try:
        summaries = run_backtests(
            inputs, outputs, kind=kind, bucket_seconds=bucket_seconds, config=config
        )
    except (BacktestError, UnicodeDecodeError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    for summary, destination in zip(summaries, outputs, strict=True):
        console.print(
            f"scored {summary.rows} rows in {summary.buckets} buckets of "
            f"{summary.bucket_seconds:g} s: {summary.anomalies} anomalous, "
            f"{summary.invalid} unreadable -> {destination}"
        )
