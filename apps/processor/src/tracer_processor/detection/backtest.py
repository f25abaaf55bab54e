"""`tracer backtest`'s engine: the streaming detector over many `timestamp,value` series.

Each series is cut into buckets - one per row by default, or `bucket_seconds` wide - and
every series is one service of the same `Detector` the processor runs, as one metric: a
count of records, an error rate, a latency, or (`value`) any metric judged both ways. All
series are stepped together, one bucket of every series per detector step, so a corpus of
many series costs about as many numpy steps as its longest series has buckets. Each point
gets its bucket's score (-log10 tail probability: finite, >= 0), the detector's decision
and, for anomalies, the reason. With `alerts`, the processor's alert lifecycle runs on those
decisions too, and each point says whether an alert of the series was open after its
bucket: an anomaly that starts while one is open is, for the product, the same incident.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from tracer_core.models import AlertType
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.detection.describe import describe
from tracer_processor.detection.detector import BucketInput, Detector
from tracer_processor.detection.lifecycle import TYPE_INDEX
from tracer_processor.detection.scoring import MetricSignals

FloatArray = npt.NDArray[np.float64]
_VOLUME = 1_000_000.0  # stands in for "plenty of requests" when the series is a rate


class Kind(StrEnum):
    COUNT = "count"
    ERROR_RATE = "error_rate"
    LATENCY = "latency"
    VALUE = "value"


_TYPES = {
    Kind.COUNT: (AlertType.TRAFFIC_DROP, AlertType.TRAFFIC_SPIKE, AlertType.SERVICE_DOWN),
    Kind.ERROR_RATE: (AlertType.ERROR_SPIKE,),
    Kind.LATENCY: (AlertType.HIGH_LATENCY,),
    Kind.VALUE: (AlertType.TRAFFIC_SPIKE, AlertType.TRAFFIC_DROP),
}
_METRIC = {Kind.COUNT: "count", Kind.ERROR_RATE: "error_rate",
           Kind.LATENCY: "latency_p95_ms", Kind.VALUE: "count"}  # fmt: skip
_VALUE_NAMES = {AlertType.TRAFFIC_SPIKE: "value_high", AlertType.TRAFFIC_DROP: "value_low"}


class BacktestError(ValueError):
    """The input cannot be read as a `timestamp,value` series (the message says where)."""


@dataclass(frozen=True, slots=True)
class ScoredSeries:
    """Per point, in the order given: score, 0/1 decision, reason ("" when not anomalous)."""

    scores: FloatArray
    flags: npt.NDArray[np.int8]
    reasons: list[str]
    buckets: int
    bucket_seconds: float
    alert_open: npt.NDArray[np.int8] | None = None  # with `alerts`: open after the bucket


@dataclass(frozen=True, slots=True)
class _Bucketed:
    order: npt.NDArray[np.intp]  # points sorted by time
    bucket_of: npt.NDArray[np.intp]  # bucket index of each sorted point
    values: FloatArray  # per bucket: sum (count) or mean
    volumes: FloatArray  # per bucket: records behind it (error_rate with volumes)
    hours: npt.NDArray[np.int64]  # per bucket: hours since 1970 of its first point


def config_for(kind: Kind, config: DetectorConfig | None, bucket_seconds: float) -> DetectorConfig:
    """The processor's detector configured for one kind of series at this bucket width."""
    made = replace(config or DetectorConfig(), bucket_seconds=max(1, round(bucket_seconds)))
    if kind is Kind.VALUE:
        return replace(made, generic_values=True)
    return replace(made, traffic_spike=True) if kind is Kind.COUNT else made


def typical_spacing(times: FloatArray) -> float:
    steps = np.diff(np.sort(times))
    positive = steps[steps > 0]
    return float(np.median(positive)) if positive.size else 1.0


def score_series(
    series: Sequence[tuple[FloatArray, FloatArray]],
    *,
    kind: Kind = Kind.COUNT,
    bucket_seconds: float | None = None,
    config: DetectorConfig | None = None,
    volumes: Sequence[FloatArray] | None = None,
    alerts: bool = False,
) -> list[ScoredSeries]:
    """Score every (epoch seconds, value) series; series of one bucket width share steps.

    `volumes` (error_rate only): the records behind each point, so a rate is judged at its
    real volume instead of as if it were measured over plenty of requests. `alerts`: also
    run the alert lifecycle and say, per point, whether an alert was open."""
    sizes = [bucket_seconds or typical_spacing(times) for times, _ in series]
    for size in sizes:
        if not math.isfinite(size) or size <= 0:
            raise BacktestError("--bucket-seconds must be a positive number")
    results: list[ScoredSeries | None] = [None] * len(series)
    for size in sorted(set(sizes)):
        members = [i for i, s in enumerate(sizes) if s == size]
        weights = [None if volumes is None else volumes[i] for i in members]
        scored = _score_group([series[i] for i in members], weights, kind, size, config, alerts)
        for i, result in zip(members, scored, strict=True):
            results[i] = result
    return [r for r in results if r is not None]


def _bucket(
    times: FloatArray, values: FloatArray, volume: FloatArray | None, size: float, kind: Kind
) -> _Bucketed:
    order = np.argsort(times, kind="stable")
    ordered = times[order]
    if ordered.size == 0:
        empty = np.zeros(0)
        return _Bucketed(order, np.zeros(0, np.intp), empty, empty, np.zeros(0, np.int64))
    keys = np.floor((ordered - ordered[0]) / size)
    starts = np.flatnonzero(np.r_[True, np.diff(keys) != 0])
    bucket_of = np.cumsum(np.r_[False, np.diff(keys) != 0]).astype(np.intp)
    weights = np.ones(ordered.size) if volume is None else np.maximum(volume[order], 0.0)
    sums = np.add.reduceat(values[order] * (1.0 if volume is None else weights), starts)
    totals = np.add.reduceat(weights, starts)
    if kind is Kind.COUNT:
        aggregated = sums
    else:
        aggregated = np.where(totals > 0, sums / np.maximum(totals, 1e-300), 0.0)
    hours = np.floor(ordered[starts] / 3600.0).astype(np.int64)
    return _Bucketed(order, bucket_of, aggregated, totals if volume is not None else
                     np.full(starts.size, _VOLUME), hours)  # fmt: skip


def _inputs(kind: Kind, values: FloatArray, volume: FloatArray) -> tuple[FloatArray, ...]:
    """counts, errors, p95, latency samples standing for one bucket of each series."""
    zeros = np.zeros(values.size)
    if kind is Kind.COUNT:
        return np.maximum(values, 0.0), zeros, zeros, zeros
    if kind is Kind.ERROR_RATE:
        return volume, np.round(np.clip(values, 0.0, 1.0) * volume), zeros, zeros
    if kind is Kind.LATENCY:
        return volume, zeros, np.maximum(values, 0.0), volume
    return values, zeros, zeros, zeros


def _score_group(
    series: Sequence[tuple[FloatArray, FloatArray]],
    volumes: Sequence[FloatArray | None],
    kind: Kind,
    size: float,
    config: DetectorConfig | None,
    alerts: bool,
) -> list[ScoredSeries]:
    bucketed = [_bucket(t, v, w, size, kind) for (t, v), w in zip(series, volumes, strict=True)]
    lengths = np.array([b.values.size for b in bucketed], np.int64)
    by_length = np.argsort(-lengths, kind="stable")  # longest first: active = a prefix
    longest = int(lengths.max()) if lengths.size else 0
    width = len(series)
    values = np.zeros((longest, width))
    hours = np.zeros((longest, width), np.int64)
    volume = np.zeros((longest, width))
    for column, index in enumerate(by_length.tolist()):
        b = bucketed[index]
        values[: b.values.size, column] = b.values
        volume[: b.values.size, column] = b.volumes
        hours[: b.values.size, column] = b.hours
    # For each step k, how many series have more than k buckets.
    active = width - np.searchsorted(np.sort(lengths), np.arange(longest), side="right")
    detector = Detector(
        config_for(kind, config, size),
        lambda _slot: ("", "series"),
        judged=(_METRIC[kind],),
        alerts=False,  # every point gets the bucket's verdict; alert state is not needed
    )
    detector.ensure_capacity(max(width, 1))
    scores = np.zeros((longest, width))
    flags = np.zeros((longest, width), np.int8)
    opened = np.zeros((longest, width), np.int8)
    columns = [TYPE_INDEX[alert_type] for alert_type in _TYPES[kind]]
    reasons: dict[tuple[int, int], str] = {}
    metric_name, types = _METRIC[kind], _TYPES[kind]
    for k in range(longest):
        m = int(active[k])
        counts, errors, p95, timed = _inputs(kind, values[k, :m], volume[k, :m])
        result = detector.step(
            BucketInput(
                bucket=k,
                slots=np.arange(m, dtype=np.intp),
                counts=counts,
                errors=errors,
                p95_ms=p95,
                latency_samples=timed,
                partial=np.zeros(m, np.bool_),
                samples={},
                epoch_hours=hours[k, :m],
            )
        )
        metric: MetricSignals = result.signals[metric_name]
        scores[k, :m] = metric.score
        for alert_type in types:
            verdict = metric.verdicts.get(alert_type)
            if verdict is None:
                continue
            for column in np.flatnonzero(verdict.anomalous & (flags[k, :m] == 0)).tolist():
                flags[k, column] = 1
                why = describe(metric, column, alert_type, detector.config)["reasons"][0]
                if kind is Kind.VALUE:  # the count channel carries the value
                    label, why = _VALUE_NAMES[alert_type], why.replace("count", "value", 1)
                else:
                    label = alert_type.value
                reasons[(k, column)] = f"{label}: {why}"
        if alerts:  # the processor's own rules decide when an alert opens and resolves
            chosen = {t: v for t, v in metric.verdicts.items() if t in types}
            detector.lifecycle.step(k, slice(0, m), chosen)
            opened[k, :m] = detector.lifecycle.open[:m][:, columns].any(axis=1)
    out: list[ScoredSeries] = []
    column_of = np.empty(width, np.intp)
    column_of[by_length] = np.arange(width)
    for index, b in enumerate(bucketed):
        column = int(column_of[index])
        point_scores = np.zeros(b.order.size)
        point_flags = np.zeros(b.order.size, np.int8)
        point_scores[b.order] = scores[b.bucket_of, column]
        point_flags[b.order] = flags[b.bucket_of, column]
        point_open = np.zeros(b.order.size, np.int8)
        point_open[b.order] = opened[b.bucket_of, column]
        point_reasons = [""] * b.order.size
        bucket_at = np.empty(b.order.size, np.intp)
        bucket_at[b.order] = b.bucket_of
        for position in np.flatnonzero(point_flags).tolist():
            point_reasons[position] = reasons.get((int(bucket_at[position]), column), "")
        out.append(
            ScoredSeries(point_scores, point_flags, point_reasons, b.values.size, size,
                         point_open if alerts else None)
        )  # fmt: skip
    return out
