"""`tracer backtest` on files: read `timestamp,value` CSVs, score them together, write them.

The input is the common format of public anomaly benchmarks: a header naming `timestamp`
and `value` columns (any others are ignored), times as ISO 8601 or epoch seconds or
milliseconds. Unreadable rows are kept - they get one output row each, with a reason - so
the output always has one row per input row, in the input's order.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tracer_processor.detection.backtest import BacktestError, Kind, ScoredSeries, score_series
from tracer_processor.detection.config import DetectorConfig

FloatArray = npt.NDArray[np.float64]
HEADER = ["timestamp", "value", "score", "is_anomaly", "reason"]


@dataclass(frozen=True, slots=True)
class SeriesFile:
    timestamps: list[str]
    values: list[str]
    times: FloatArray  # epoch seconds of the readable rows
    numbers: FloatArray
    readable: npt.NDArray[np.intp]  # their row positions

    @property
    def rows(self) -> int:
        return len(self.timestamps)


@dataclass(frozen=True, slots=True)
class BacktestSummary:
    rows: int
    buckets: int
    anomalies: int  # rows flagged
    invalid: int  # rows whose timestamp or value could not be read
    bucket_seconds: float


def run_backtests(
    sources: list[Path],
    destinations: list[Path],
    *,
    kind: Kind = Kind.COUNT,
    bucket_seconds: float | None = None,
    config: DetectorConfig | None = None,
) -> list[BacktestSummary]:
    """Score every source together and write each to its destination (same order)."""
    files = []
    for source in sources:
        try:
            files.append(read_series(source))
        except BacktestError as exc:
            raise BacktestError(f"{source}: {exc}") from None
    scored = score_series(
        [(f.times, f.numbers) for f in files],
        kind=kind,
        bucket_seconds=bucket_seconds,
        config=config,
    )
    return [
        write_scored(destination, f, result)
        for destination, f, result in zip(destinations, files, scored, strict=True)
    ]


def run_backtest(
    source: Path,
    destination: Path,
    *,
    kind: Kind = Kind.COUNT,
    bucket_seconds: float | None = None,
    config: DetectorConfig | None = None,
) -> BacktestSummary:
    return run_backtests(
        [source], [destination], kind=kind, bucket_seconds=bucket_seconds, config=config
    )[0]


def read_series(path: Path) -> SeriesFile:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise BacktestError("the input is empty; expected a header row timestamp,value")
        names = [name.strip().lower() for name in header]
        if "timestamp" not in names or "value" not in names:
            raise BacktestError(f"the header must name timestamp and value columns, got {header}")
        at, val = names.index("timestamp"), names.index("value")
        widest = max(at, val)
        timestamps: list[str] = []
        values: list[str] = []
        for fields in reader:
            if not fields:
                continue
            if len(fields) > widest:
                timestamps.append(fields[at])
                values.append(fields[val])
            else:
                timestamps.append(fields[at] if at < len(fields) else "")
                values.append(fields[val] if val < len(fields) else "")
    times = _parse_times(timestamps)
    numbers = _parse_numbers(values)
    ok = np.isfinite(times) & np.isfinite(numbers)
    readable = np.flatnonzero(ok)
    return SeriesFile(timestamps, values, times[readable], numbers[readable], readable)


def write_scored(path: Path, series: SeriesFile, scored: ScoredSeries) -> BacktestSummary:
    rows = series.rows
    scores = np.zeros(rows)
    flags = np.zeros(rows, np.int8)
    reasons = [""] * rows
    unreadable = np.ones(rows, np.bool_)
    unreadable[series.readable] = False
    for position in np.flatnonzero(unreadable).tolist():
        reasons[position] = _invalid(series.timestamps[position], series.values[position])
    scores[series.readable] = scored.scores
    flags[series.readable] = scored.flags
    for position, reason in zip(series.readable.tolist(), scored.reasons, strict=True):
        reasons[position] = reason
    score_text = [f"{s:.6g}" if s > 0 else "0" for s in np.nan_to_num(scores).tolist()]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(
            zip(series.timestamps, series.values, score_text, flags.tolist(), reasons, strict=True)
        )
    return BacktestSummary(
        rows=rows,
        buckets=scored.buckets,
        anomalies=int(flags.sum()),
        invalid=rows - int(series.readable.size),
        bucket_seconds=scored.bucket_seconds,
    )


def _invalid(timestamp: str, value: str) -> str:
    """The reason column of a row that could not be scored (scored rows overwrite it)."""
    if not math.isfinite(_parse_time(timestamp)):
        return f"invalid timestamp {timestamp[:40]!r}"
    return f"invalid value {value[:40]!r}"


def _parse_times(texts: list[str]) -> FloatArray:
    """Epoch seconds of each text (NaN when unreadable); ISO times in bulk when they can be."""
    first = texts[0].strip() if texts else ""
    if len(first) < 10 or first[4] != "-" or _zoned(first):
        return np.array([_parse_time(t) for t in texts], np.float64)
    try:
        parsed = np.array([t.strip().replace(" ", "T", 1) for t in texts], "datetime64[us]")
        seconds = parsed.astype(np.int64).astype(np.float64) / 1.0e6
        if not np.isnat(parsed).any():
            return seconds
    except ValueError:
        pass
    return np.array([_parse_time(t) for t in texts], np.float64)


def _zoned(text: str) -> bool:
    tail = text.strip()[10:]
    return "+" in tail or tail.endswith("Z") or "-" in tail


def _parse_numbers(texts: list[str]) -> FloatArray:
    """Each text as a finite float (NaN when unreadable), in bulk when every one reads."""
    try:
        numbers = np.array(texts, np.float64)
    except ValueError:
        numbers = np.array([_parse_number(t) for t in texts], np.float64)
    return np.where(np.isfinite(numbers), numbers, np.nan)


def _parse_time(text: str) -> float:
    text = text.strip()
    number = _parse_number(text)
    if math.isfinite(number):
        return number / 1000.0 if abs(number) >= 1e11 else number  # epoch ms or seconds
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return math.nan
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _parse_number(text: str) -> float:
    try:
        number = float(text.strip())
    except ValueError:
        return math.nan
    return number if math.isfinite(number) else math.nan
