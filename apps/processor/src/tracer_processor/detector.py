"""The streaming detector: one closed bucket of many services in, alert decisions out.

Per bucket, for all given services at once: read each metric's baseline, score the bucket
against it (`scoring`), *then* write the bucket into the baseline - unless it is clearly
anomalous, so an incident does not teach the baseline that it is normal. A shift that lasts
`adopt_buckets` is let in after all, so a permanent change is eventually learnt and its
alert resolves. Finally the lifecycle decides what to tell the alert store, and the
candidates carry the numbers and error samples a summary needs. `tracer backtest` runs this
same class over a single series.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from tracer_core.models import AlertType, Severity
from tracer_processor.alerting import AlertCandidate, Recovery
from tracer_processor.baseline import RollingBaseline
from tracer_processor.lifecycle import TYPE_INDEX, AlertLifecycle, Transitions
from tracer_processor.registry import rows_of, take
from tracer_processor.scoring import (
    DetectorConfig,
    MetricSignals,
    error_signals,
    latency_signals,
    traffic_signals,
)
from tracer_processor.templates import ErrorSamples

FloatArray = npt.NDArray[np.float64]
SlotArray = npt.NDArray[np.intp]
NameLookup = Callable[[int], tuple[str, str]]  # slot -> (project, service)
SEVERITIES = (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
_METRIC_OF = {
    AlertType.ERROR_SPIKE: "error_rate",
    AlertType.HIGH_LATENCY: "latency_p95_ms",
    AlertType.TRAFFIC_DROP: "count",
    AlertType.TRAFFIC_SPIKE: "count",
    AlertType.SERVICE_DOWN: "count",
}


@dataclass(frozen=True, slots=True)
class BucketInput:
    """What the detector needs to know about one bucket of several services."""

    bucket: int
    slots: SlotArray
    counts: FloatArray
    errors: FloatArray
    p95_ms: FloatArray
    latency_samples: FloatArray
    partial: npt.NDArray[np.bool_]  # the service's first bucket: its volume is not judged
    samples: dict[int, ErrorSamples]


@dataclass(frozen=True, slots=True)
class StepResult:
    signals: dict[str, MetricSignals]  # by metric name
    transitions: Transitions
    items: list[AlertCandidate | Recovery]


class Detector:
    def __init__(self, config: DetectorConfig, names: NameLookup) -> None:
        self.config = config
        self._names = names
        window, recent, alpha = config.window_buckets, config.recent_buckets, config.ewma_alpha
        self.baselines = {
            "error_rate": RollingBaseline(window=window, recent=recent, ewma_alpha=alpha),
            "latency_p95_ms": RollingBaseline(window=window, recent=recent, ewma_alpha=alpha),
            "count": RollingBaseline(window=window, recent=recent, ewma_alpha=alpha),
        }
        self.lifecycle = AlertLifecycle(config)
        self._capacity = 0
        self.steps = np.zeros(0, np.int64)
        self.silent_for = np.zeros(0, np.int64)
        self._excluded_for = {name: np.zeros(0, np.int64) for name in self.baselines}
        self.last = np.zeros((0, 5), np.float64)  # bucket, count, errors, p95, latency samples

    @property
    def settle_buckets(self) -> int:
        """Empty buckets after which more empty buckets change nothing (safe to skip)."""
        return 2 * self.config.window_buckets + self.config.critical_silence_buckets + 2

    def ensure_capacity(self, capacity: int) -> None:
        if capacity <= self._capacity:
            return
        grow = capacity - self._capacity
        for baseline in self.baselines.values():
            baseline.ensure_capacity(capacity)
        self.lifecycle.ensure_capacity(capacity)
        self.steps = np.concatenate([self.steps, np.zeros(grow, np.int64)])
        self.silent_for = np.concatenate([self.silent_for, np.zeros(grow, np.int64)])
        for name, streak in self._excluded_for.items():
            self._excluded_for[name] = np.concatenate([streak, np.zeros(grow, np.int64)])
        self.last = np.concatenate([self.last, np.zeros((grow, 5))])
        self._capacity = capacity

    def reset(self, slots: SlotArray) -> None:
        for baseline in self.baselines.values():
            baseline.reset(slots)
        self.lifecycle.reset(slots)
        self.steps[slots] = 0
        self.silent_for[slots] = 0
        for streak in self._excluded_for.values():
            streak[slots] = 0
        self.last[slots] = 0

    def skip_empty(self, slots: SlotArray, buckets: npt.NDArray[np.int64]) -> None:
        """Account for a run of empty buckets after `settle_buckets` of them were processed."""
        self.steps[slots] += buckets
        self.silent_for[slots] += buckets
        self.last[slots, 0] += buckets

    # -- one bucket -------------------------------------------------------------------------

    def step(self, bucket: BucketInput) -> StepResult:
        config = self.config
        slots = bucket.slots
        rows = rows_of(slots)
        steps = take(self.steps, rows)
        silent = bucket.counts <= 0
        silent_for = np.where(silent, self.silent_for[rows] + 1, 0)

        def inputs(name: str) -> tuple[Any, ...]:
            baseline = self.baselines[name]
            return baseline.stats(rows), baseline.previous_mean(rows), baseline.level(rows)

        errors = error_signals(config, bucket.counts, bucket.errors, *inputs("error_rate"))
        latency = latency_signals(
            config, bucket.p95_ms, bucket.latency_samples, *inputs("latency_p95_ms")
        )
        traffic = traffic_signals(
            config, bucket.counts, bucket.partial, silent_for, *inputs("count")
        )
        stored = {
            "error_rate": errors.value,
            "latency_p95_ms": np.log(np.maximum(bucket.p95_ms, 0.01)),
            "count": traffic.value,
        }
        for metric in (errors, latency, traffic):
            excluded_for = self._excluded_for[metric.name]
            before = excluded_for[rows]
            streak = np.where(
                metric.observed & metric.exclude,
                before + 1,
                np.where(metric.observed, 0, before),
            )
            adopt = streak > config.adopt_buckets
            if metric.name == "count":
                adopt &= ~silent  # silence is never learnt as normal while a baseline exists
            accept = metric.observed & (~metric.exclude | adopt)
            self.baselines[metric.name].push(
                rows, slots, steps, stored[metric.name], metric.observed, accept
            )
            excluded_for[rows] = streak
        self.steps[rows] = steps + 1
        self.silent_for[rows] = silent_for
        self.last[rows] = np.column_stack(
            [
                np.full(slots.size, float(bucket.bucket)),
                bucket.counts,
                bucket.errors,
                bucket.p95_ms,
                bucket.latency_samples,
            ]
        )

        verdicts = {**errors.verdicts, **latency.verdicts, **traffic.verdicts}
        transitions = self.lifecycle.step(bucket.bucket, rows, verdicts)
        signals = {s.name: s for s in (errors, latency, traffic)}
        items = self._items(bucket, signals, transitions)
        return StepResult(signals=signals, transitions=transitions, items=items)

    # -- what the store is told -------------------------------------------------------------

    def _items(
        self,
        bucket: BucketInput,
        signals: dict[str, MetricSignals],
        transitions: Transitions,
    ) -> list[AlertCandidate | Recovery]:
        items: list[AlertCandidate | Recovery] = []
        size = self.config.bucket_seconds
        end = _when((bucket.bucket + 1) * size)
        for alert_type, positions in transitions.report.items():
            for position in positions.tolist():
                slot = int(bucket.slots[position])
                project, service = self._names(slot)
                metric = signals[_METRIC_OF[alert_type]]
                severity_rank = int(self.lifecycle.severity[slot, TYPE_INDEX[alert_type]])
                column = TYPE_INDEX[alert_type]
                start = int(transitions.incident_start[position, column])
                details = describe(metric, position, alert_type, self.config)
                details.update(_bucket_context(bucket, position, size))
                details["anomalous_buckets"] = int(transitions.anomalous_for[position, column])
                sample = bucket.samples.get(slot)
                if sample is not None:
                    details["samples"] = sample.top()
                    details["sampled_errors"] = sample.sampled
                items.append(
                    AlertCandidate(
                        project=project,
                        service=service,
                        alert_type=alert_type,
                        severity=SEVERITIES[severity_rank],
                        title=title(service, alert_type, details, size),
                        window_start=_when(min(start, bucket.bucket) * size),
                        window_end=end,
                        details=details,
                    )
                )
        for alert_type, positions in transitions.recover.items():
            for position in positions.tolist():
                slot = int(bucket.slots[position])
                project, service = self._names(slot)
                metric = signals[_METRIC_OF[alert_type]]
                healthy = int(transitions.healthy_for[position, TYPE_INDEX[alert_type]])
                details = {
                    "metric": metric.name,
                    "observed": _num(metric.value[position]),
                    "baseline_mean": _num(metric.mean[position]),
                    "healthy_buckets": healthy,
                    "reasons": [f"back within its usual band for {healthy * size} s"],
                }
                items.append(
                    Recovery(
                        project=project,
                        service=service,
                        alert_type=alert_type,
                        window_end=end,
                        details=details,
                    )
                )
        return items


def _when(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def _num(value: float | np.floating[Any] | np.integer[Any]) -> float:
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        return 0.0
    return round(number, 6)


def _bucket_context(bucket: BucketInput, position: int, size: int) -> dict[str, Any]:
    count = float(bucket.counts[position])
    errors = float(bucket.errors[position])
    context: dict[str, Any] = {
        "bucket_start": _when(bucket.bucket * size).isoformat(),
        "bucket_seconds": size,
        "count": _num(count),
        "errors": _num(errors),
        "error_rate": _num(errors / count) if count > 0 else 0.0,
    }
    if bucket.latency_samples[position] > 0:
        context["latency_p95_ms"] = _num(bucket.p95_ms[position])
    return context


def describe(
    metric: MetricSignals, position: int, alert_type: AlertType, config: DetectorConfig
) -> dict[str, Any]:
    """The numbers behind a detection (all finite) and the reasons in words."""
    value = float(metric.value[position])
    mean = float(metric.mean[position])
    z = float(metric.z[position])
    ratio = float(metric.ratio[position])
    change = float(metric.change[position])
    reasons: list[str] = []
    unit = _formatter(metric.name)
    if abs(z) >= config.z_threshold:
        side = "above" if z > 0 else "below"
        reasons.append(
            f"{metric.name} {unit(value)} is {abs(z):.1f} standard deviations {side} its "
            f"baseline {unit(mean)}"
        )
    if abs(float(metric.ewma_z[position])) >= config.z_threshold:
        level, moved = float(metric.ewma[position]), abs(float(metric.ewma_z[position]))
        reasons.append(f"sustained: the moving average {unit(level)} moved {moved:.1f} deviations")
    if alert_type is AlertType.ERROR_SPIKE and value >= config.static_error_rate:
        reasons.append(f"{value:.0%} of requests failed")
    if alert_type is AlertType.SERVICE_DOWN:
        reasons.append(f"no logs in this bucket; usually about {mean:.0f} per bucket")
    if ratio >= 1.5 or ratio <= 0.67:
        reasons.append(f"{ratio:.2f}x its baseline")
    if abs(change) >= 0.5:
        reasons.append(f"{change:+.0%} on the previous {config.recent_buckets} buckets")
    if not reasons:
        reasons.append(f"{metric.name} {unit(value)} against a baseline of {unit(mean)}")
    return {
        "metric": metric.name,
        "observed": _num(value),
        "baseline_mean": _num(mean),
        "baseline_std": _num(metric.std[position]),
        "baseline_buckets": int(metric.n[position]),
        "z": _num(z),
        "ewma": _num(metric.ewma[position]),
        "ewma_z": _num(metric.ewma_z[position]),
        "ratio": _num(ratio),
        "change": _num(change),
        "previous_window_mean": _num(metric.previous[position]),
        "score": _num(metric.score[position]),
        "reasons": reasons,
    }


def _formatter(metric: str) -> Callable[[float], str]:
    if metric == "error_rate":
        return lambda v: f"{v:.1%}"
    if metric == "latency_p95_ms":
        return lambda v: f"{v:.0f} ms"
    return lambda v: f"{v:.0f}"


def title(service: str, alert_type: AlertType, details: dict[str, Any], size: int) -> str:
    observed, mean = details["observed"], details["baseline_mean"]
    if alert_type is AlertType.ERROR_SPIKE:
        return f"{service}: error rate {observed:.1%} (baseline {mean:.1%})"
    if alert_type is AlertType.HIGH_LATENCY:
        return f"{service}: p95 latency {observed:.0f} ms (usually {mean:.0f} ms)"
    if alert_type is AlertType.TRAFFIC_DROP:
        return f"{service}: traffic down to {observed:.0f} per {size} s (usually {mean:.0f})"
    if alert_type is AlertType.TRAFFIC_SPIKE:
        return f"{service}: traffic up to {observed:.0f} per {size} s (usually {mean:.0f})"
    silent = details.get("anomalous_buckets", 1) * size
    return f"{service}: no logs for {silent} s (usually {mean:.0f} per {size} s)"
