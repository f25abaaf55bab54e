"""`tracer backtest`: the streaming detector over one `timestamp,value` series.

The series (the common format of public anomaly benchmarks) is cut into buckets - one per
row by default, or `bucket_seconds` wide - and each bucket goes through the same `Detector`
the processor runs, as one service's metric: a count of records, an error rate, or a latency.
Each input row gets its bucket's score (finite, >= 0, higher is more anomalous), the
detector's own decision and, for anomalies, the reason, in the input's order.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TextIO

import numpy as np

from tracer_core.models import AlertType
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.detection.describe import describe
from tracer_processor.detection.detector import BucketInput, Detector
from tracer_processor.detection.scoring import MetricSignals

_VOLUME = 1_000_000.0  # stands in for "plenty of requests" when the series is a rate
_TYPES = {
    "count": (AlertType.TRAFFIC_DROP, AlertType.TRAFFIC_SPIKE, AlertType.SERVICE_DOWN),
    "error_rate": (AlertType.ERROR_SPIKE,),
    "latency": (AlertType.HIGH_LATENCY,),
}
_METRIC = {"count": "count", "error_rate": "error_rate", "latency": "latency_p95_ms"}


class Kind(StrEnum):
    COUNT = "count"
    ERROR_RATE = "error_rate"
    LATENCY = "latency"


class BacktestError(ValueError):
    """The input cannot be read as a `timestamp,value` series (the message says where)."""


@dataclass(frozen=True, slots=True)
class BacktestSummary:
    rows: int
    buckets: int
    anomalies: int  # rows flagged
    invalid: int  # rows whose timestamp or value could not be read
    bucket_seconds: float


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    timestamp: str
    value: str
    when: float | None
    number: float | None


def run_backtest(
    source: Path,
    destination: Path,
    *,
    kind: Kind = Kind.COUNT,
    bucket_seconds: float | None = None,
    config: DetectorConfig | None = None,
) -> BacktestSummary:
    with source.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(_read(handle))
    with destination.open("w", newline="", encoding="utf-8") as handle:
        return backtest_rows(rows, handle, kind=kind, bucket_seconds=bucket_seconds, config=config)


def backtest_rows(
    rows: list[_Row],
    out: TextIO,
    *,
    kind: Kind,
    bucket_seconds: float | None,
    config: DetectorConfig | None,
) -> BacktestSummary:
    times = {i: row.when for i, row in enumerate(rows) if row.when is not None}
    valid = [i for i in times if rows[i].number is not None]
    size = bucket_seconds or _typical_spacing([times[i] for i in valid])
    if not math.isfinite(size) or size <= 0:
        raise BacktestError("--bucket-seconds must be a positive number")
    scores = np.zeros(len(rows))
    flags = np.zeros(len(rows), np.int8)
    reasons = [_invalid(row) for row in rows]
    for i in valid:
        reasons[i] = ""
    buckets = 0
    order = sorted(valid, key=lambda i: times[i])
    keys = [math.floor((times[i] - times[order[0]]) / size) for i in order]
    detector = Detector(
        replace(config or DetectorConfig(), traffic_spike=True), lambda _slot: ("", "series")
    )
    detector.ensure_capacity(1)
    start = 0
    while start < len(order):
        stop = start
        while stop < len(order) and keys[stop] == keys[start]:
            stop += 1
        members = order[start:stop]
        score, flagged, reason = _step(detector, kind, [rows[i].number or 0.0 for i in members])
        for i in members:
            scores[i], flags[i], reasons[i] = score, flagged, reason
        buckets += 1
        start = stop
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestamp", "value", "score", "is_anomaly", "reason"])
    for index, row in enumerate(rows):
        writer.writerow(
            [row.timestamp, row.value, _score(scores[index]), flags[index], reasons[index]]
        )
    return BacktestSummary(
        rows=len(rows),
        buckets=buckets,
        anomalies=int(flags.sum()),
        invalid=len(rows) - len(valid),
        bucket_seconds=size,
    )


def _step(detector: Detector, kind: Kind, values: list[float]) -> tuple[float, int, str]:
    """Feed one bucket of the series as one service's metric; its score, flag and reason."""
    if kind is Kind.COUNT:
        count, errors, p95, timed = max(sum(values), 0.0), 0.0, 0.0, 0.0
    elif kind is Kind.ERROR_RATE:
        rate = min(max(sum(values) / len(values), 0.0), 1.0)
        count, errors, p95, timed = _VOLUME, rate * _VOLUME, 0.0, 0.0
    else:
        count, errors, p95, timed = _VOLUME, 0.0, max(sum(values) / len(values), 0.0), _VOLUME
    result = detector.step(
        BucketInput(
            bucket=int(detector.steps[0]),
            slots=np.zeros(1, np.intp),
            counts=np.array([count]),
            errors=np.array([errors]),
            p95_ms=np.array([p95]),
            latency_samples=np.array([timed]),
            partial=np.zeros(1, np.bool_),
            samples={},
        )
    )
    metric: MetricSignals = result.signals[_METRIC[kind.value]]
    for alert_type in _TYPES[kind.value]:
        verdict = metric.verdicts.get(alert_type)
        if verdict is not None and bool(verdict.anomalous[0]):
            why = describe(metric, 0, alert_type, detector.config)["reasons"][0]
            return float(metric.score[0]), 1, f"{alert_type.value}: {why}"
    return float(metric.score[0]), 0, ""


def _score(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) and value > 0 else "0"


def _invalid(row: _Row) -> str:
    """The reason column of a row that could not be scored (scored rows overwrite it)."""
    if row.when is None:
        return f"invalid timestamp {row.timestamp[:40]!r}"
    return f"invalid value {row.value[:40]!r}"


def _typical_spacing(times: list[float]) -> float:
    steps = np.diff(np.sort(np.array(times, np.float64)))
    positive = steps[steps > 0]
    return float(np.median(positive)) if positive.size else 1.0


def _read(handle: TextIO) -> Iterator[_Row]:
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None:
        raise BacktestError("the input is empty; expected a header row timestamp,value")
    names = [name.strip().lower() for name in header]
    if "timestamp" not in names or "value" not in names:
        raise BacktestError(f"the header must name timestamp and value columns, got {header}")
    at, val = names.index("timestamp"), names.index("value")
    for line, fields in enumerate(reader, start=2):
        if not fields:
            continue
        timestamp = fields[at] if at < len(fields) else ""
        value = fields[val] if val < len(fields) else ""
        yield _Row(line, timestamp, value, _parse_time(timestamp), _parse_number(value))


def _parse_time(text: str) -> float | None:
    text = text.strip()
    number = _parse_number(text)
    if number is not None:
        return number / 1000.0 if abs(number) >= 1e11 else number  # epoch ms or seconds
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _parse_number(text: str) -> float | None:
    try:
        number = float(text.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None
