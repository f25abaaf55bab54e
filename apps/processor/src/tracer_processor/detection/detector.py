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

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from tracer_core.models import AlertType, Severity
from tracer_processor.alerts.reports import AlertCandidate, Recovery
from tracer_processor.buckets.registry import Rows, rows_of, take
from tracer_processor.buckets.templates import ErrorSamples
from tracer_processor.detection.baseline import RollingBaseline
from tracer_processor.detection.bursts import BurstTracker
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.detection.describe import details, number, numbers, title
from tracer_processor.detection.lifecycle import TYPE_INDEX, AlertLifecycle, Transitions
from tracer_processor.detection.scoring import (
    SHORT_SPAN,
    FloatArray,
    MetricSignals,
    error_signals,
    latency_signals,
    slot_spread,
    traffic_signals,
)
from tracer_processor.detection.season import SeasonalProfile
from tracer_processor.detection.values import ValueScale, ValueView

SlotArray = npt.NDArray[np.intp]
NameLookup = Callable[[int], tuple[str, str]]  # slot -> (project, service)
SEVERITIES = (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
_Inputs = tuple[
    tuple[FloatArray, FloatArray, npt.NDArray[np.int64]],
    tuple[FloatArray, npt.NDArray[np.int64]],
    tuple[FloatArray, npt.NDArray[np.bool_]],
]  # a baseline's stats, previous-window mean and level
_JUDGED = ("error_rate", "latency_p95_ms", "count")  # the metrics that alert
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
    epoch_hours: npt.NDArray[np.int64] | None = None  # per service; default: from `bucket`


_EMPTY = np.zeros((0, 0), np.int64)
_NO_TRANSITIONS = Transitions({}, {}, _EMPTY, _EMPTY, _EMPTY)  # when alerts are not tracked


@dataclass(frozen=True, slots=True)
class StepResult:
    signals: dict[str, MetricSignals]  # by metric name
    transitions: Transitions
    items: list[AlertCandidate | Recovery]


class Detector:
    def __init__(
        self,
        config: DetectorConfig,
        names: NameLookup,
        *,
        judged: Collection[str] = _JUDGED,
        alerts: bool = True,
    ) -> None:
        """`judged`: the metrics scored (the processor: all; a backtest: its series' kind,
        the error rate with the volume it is judged at); `alerts`: whether the lifecycle
        runs and candidates are made, or only the per-bucket signals and verdicts."""
        self.config = config
        self._names = names
        unknown = set(judged) - set(_JUDGED)
        if unknown:
            raise ValueError(f"unknown metrics: {sorted(unknown)}")
        needs_volume = {"count"} if "error_rate" in judged else set()
        self.judged = frozenset(judged) | needs_volume
        self.alerts = alerts
        window, recent, alpha = config.window_buckets, config.recent_buckets, config.ewma_alpha
        self.baselines = {
            "error_rate": RollingBaseline(window=window, recent=recent, ewma_alpha=alpha),
            "latency_p95_ms": RollingBaseline(window=window, recent=recent, ewma_alpha=alpha),
            "count": RollingBaseline(window=window, recent=recent, ewma_alpha=alpha),
        }
        # Records and errors per bucket: the window's error rate, and quiet buckets' pool.
        self.pools = {
            "records": RollingBaseline(window=window, recent=recent, ewma_alpha=alpha),
            "errors": RollingBaseline(window=window, recent=recent, ewma_alpha=alpha),
        }
        self.bursts = {"latency_p95_ms": BurstTracker(config), "count": BurstTracker(config)}
        self.season = SeasonalProfile(config)
        # A generic value's steps and wander; counts have Poisson noise instead.
        self.values = ValueScale(config) if config.generic_values else None
        self.lifecycle = AlertLifecycle(config)
        self._capacity = 0
        self.steps = np.zeros(0, np.int64)
        # Per slot: how many times its state changed (any step, skip, restore, reset or
        # resumed alert), so a checkpoint can write only what changed since it last wrote.
        self.changes = np.zeros(0, np.int64)
        self.silent_for = np.zeros(0, np.int64)
        self._excluded_for = {name: np.zeros(0, np.int64) for name in _JUDGED}
        self.last = np.zeros((0, 5), np.float64)  # bucket, count, errors, p95, latency samples
        self.last_score = np.zeros((0, len(_JUDGED)), np.float64)  # by metric, in _JUDGED

    def ensure_capacity(self, capacity: int) -> None:
        if capacity <= self._capacity:
            return
        grow = capacity - self._capacity
        for baseline in (*self.baselines.values(), *self.pools.values()):
            baseline.ensure_capacity(capacity)
        for tracker in self.bursts.values():
            tracker.ensure_capacity(capacity)
        self.season.ensure_capacity(capacity)
        if self.values is not None:
            self.values.ensure_capacity(capacity)
        self.lifecycle.ensure_capacity(capacity)
        self.steps = np.concatenate([self.steps, np.zeros(grow, np.int64)])
        self.changes = np.concatenate([self.changes, np.zeros(grow, np.int64)])
        self.silent_for = np.concatenate([self.silent_for, np.zeros(grow, np.int64)])
        for name, streak in self._excluded_for.items():
            self._excluded_for[name] = np.concatenate([streak, np.zeros(grow, np.int64)])
        self.last = np.concatenate([self.last, np.zeros((grow, 5))])
        self.last_score = np.concatenate([self.last_score, np.zeros((grow, len(_JUDGED)))])
        self._capacity = capacity

    def reset(self, slots: SlotArray) -> None:
        for baseline in (*self.baselines.values(), *self.pools.values()):
            baseline.reset(slots)
        for tracker in self.bursts.values():
            tracker.reset(slots)
        self.season.reset(slots)
        if self.values is not None:
            self.values.reset(slots)
        self.lifecycle.reset(slots)
        self.steps[slots] = 0
        self.changes[slots] += 1
        self.silent_for[slots] = 0
        for streak in self._excluded_for.values():
            streak[slots] = 0
        self.last[slots] = 0
        self.last_score[slots] = 0

    def export(self, slots: SlotArray) -> dict[str, npt.NDArray[Any]]:
        """Everything the detector knows about `slots` (copies, services first): what a
        checkpoint must hold for a restored detector to score exactly as this one would."""
        state: dict[str, npt.NDArray[Any]] = {
            "steps": self.steps[slots],
            "silent_for": self.silent_for[slots],
            "last": self.last[slots],
            "last_score": self.last_score[slots],
        }
        for name, baseline in self.baselines.items():
            if name in self._excluded_for:
                state[f"{name}.excluded_for"] = self._excluded_for[name][slots]
            state.update({f"{name}.{k}": v for k, v in baseline.export(slots).items()})
        for name, pool in self.pools.items():
            state.update({f"pool.{name}.{k}": v for k, v in pool.export(slots).items()})
        for name, tracker in self.bursts.items():
            state.update({f"bursts.{name}.{k}": v for k, v in tracker.export(slots).items()})
        state.update({f"season.{k}": v for k, v in self.season.export(slots).items()})
        if self.values is not None:
            state.update({f"values.{k}": v for k, v in self.values.export(slots).items()})
        state.update({f"alerts.{k}": v for k, v in self.lifecycle.export(slots).items()})
        return state

    def restore(self, slots: SlotArray, state: dict[str, npt.NDArray[Any]]) -> None:
        """Put back what `export` gave (capacity must already cover `slots`)."""
        self.steps[slots] = state["steps"]
        self.changes[slots] += 1
        self.silent_for[slots] = state["silent_for"]
        self.last[slots] = state["last"]
        self.last_score[slots] = state["last_score"]
        for name, baseline in self.baselines.items():
            if name in self._excluded_for:
                self._excluded_for[name][slots] = state[f"{name}.excluded_for"]
            baseline.restore(slots, _under(state, f"{name}."))
        for name, pool in self.pools.items():
            pool.restore(slots, _under(state, f"pool.{name}."))
        for name, tracker in self.bursts.items():
            tracker.restore(slots, _under(state, f"bursts.{name}."))
        self.season.restore(slots, _under(state, "season."))
        if self.values is not None:
            self.values.restore(slots, _under(state, "values."))
        self.lifecycle.restore(slots, _under(state, "alerts."))

    def last_scores(self, slot: int) -> dict[str, float]:
        """Each metric's score in the service's last bucket (-log10 tail probability)."""
        return dict(zip(_JUDGED, self.last_score[slot].tolist(), strict=True))

    def resume(self, slot: int, alert_type: AlertType, severity_rank: int) -> None:
        """Consider an alert of this service open (taken over from the store at start)."""
        column = TYPE_INDEX[alert_type]
        self.changes[slot] += 1
        self.lifecycle.open[slot, column] = True
        self.lifecycle.severity[slot, column] = max(
            int(self.lifecycle.severity[slot, column]), severity_rank
        )

    def skip_empty(self, slots: SlotArray, buckets: npt.NDArray[np.int64]) -> None:
        """Account for empty buckets skipped after `config.settle_buckets` were processed."""
        self.steps[slots] += buckets
        self.changes[slots] += 1
        self.silent_for[slots] += buckets
        self.last[slots, 0] += buckets

    # -- one bucket -------------------------------------------------------------------------

    def _pool(
        self,
        slots: SlotArray,
        rows: Rows,
        steps: npt.NDArray[np.int64],
        counts: FloatArray,
        errors: FloatArray,
    ) -> tuple[FloatArray, ...]:
        """Records and errors of each bucket, a quiet one pooled with the buckets before it
        (newest first, up to `pool_buckets`) until it holds `min_count` records; then those
        of this bucket and the `SHORT_SPAN - 1` before it, and of this bucket and the
        `recent_buckets` before it (the spans)."""
        pools = self.pools
        flat, written = pools["records"].recent_positions(slots, steps, SHORT_SPAN - 1)
        short_records = counts + pools["records"].recent_at(flat, written)
        short_errors = errors + pools["errors"].recent_at(flat, written)
        span_records = counts + pools["records"].recent_sum(rows)
        span_errors = errors + pools["errors"].recent_sum(rows)
        spans = (short_records, short_errors, span_records, span_errors)
        records, failed = counts.copy(), errors.copy()
        quiet = np.flatnonzero(counts < self.config.min_count)
        if quiet.size == 0:
            return records, failed, *spans
        ages = self.config.pool_buckets
        flat, written = self.pools["records"].newest_first(slots[quiet], steps[quiet], ages)
        before = self.pools["records"].window_at(flat, written)
        errors_before = self.pools["errors"].window_at(flat, written)
        reached = counts[quiet, None] + np.cumsum(before, axis=1) - before
        take_it = reached < self.config.min_count
        records[quiet] += (before * take_it).sum(axis=1)
        failed[quiet] += (errors_before * take_it).sum(axis=1)
        return records, failed, *spans

    def step(self, bucket: BucketInput) -> StepResult:
        config = self.config
        slots = bucket.slots
        rows = rows_of(slots)
        steps = take(self.steps, rows)
        counts, errors = bucket.counts, bucket.errors
        # An empty bucket is silence for a count; any value of a generic metric is a value.
        silent = (counts <= 0) & (not config.generic_values)
        silent_for = np.where(silent, self.silent_for[rows] + 1, 0)
        hours = bucket.epoch_hours
        if hours is None:
            hours = np.full(slots.size, bucket.bucket * config.bucket_seconds // 3600, np.int64)

        def inputs(name: str) -> _Inputs:
            baseline = self.baselines[name]
            return baseline.stats(rows), baseline.previous_mean(rows), baseline.level(rows)

        judged = self.judged
        scored: list[MetricSignals] = []
        raw: dict[str, FloatArray] = {}
        observed: dict[str, npt.NDArray[np.bool_]] = {}
        count_inputs = inputs("count")
        value_view: ValueView | None = None  # a generic value's own scale, when judged
        if "error_rate" in judged:
            window_records, seen = self.pools["records"].sums(rows)
            window_errors = self.pools["errors"].sums(rows)[0]
            error_sig = error_signals(
                config, counts, errors, self._pool(slots, rows, steps, counts, errors),
                (window_records, window_errors, seen), *inputs("error_rate"),
                count_inputs[0][0],
            )  # fmt: skip
            scored.append(error_sig)
            raw["error_rate"] = errors / np.maximum(counts, 1.0)
            observed["error_rate"] = counts >= config.min_count
        if "latency_p95_ms" in judged:
            latency = latency_signals(
                config, bucket.p95_ms, bucket.latency_samples, *inputs("latency_p95_ms"),
                partial(self.bursts["latency_p95_ms"].judge, rows),
            )  # fmt: skip
            scored.append(latency)
            raw["latency_p95_ms"] = np.log(np.maximum(bucket.p95_ms, 0.01))
            observed["latency_p95_ms"] = latency.observed
        if "count" in judged:
            if config.seasonal:
                season = self.season.expect(slots, hours)
            else:
                zeros = np.zeros(slots.size)
                season = (zeros, zeros, np.zeros(slots.size, np.bool_))
            if self.values is not None:
                value_view = self.values.view(rows, count_inputs[0][0], counts)
            traffic = traffic_signals(
                config, counts, bucket.partial, silent_for, *count_inputs, season,
                partial(self.bursts["count"].judge, rows), value_view,
            )  # fmt: skip
            scored.append(traffic)
            raw["count"] = counts
            observed["count"] = traffic.observed
        adopted: dict[str, npt.NDArray[np.bool_]] = {}
        incident: dict[str, npt.NDArray[np.bool_]] = {}  # the window held still
        ordinary: dict[str, npt.NDArray[np.bool_]] = {}
        for metric in scored:
            name = metric.name
            seen_now = observed[name]
            excluded_for = self._excluded_for[name]
            before = excluded_for[rows]
            # A departure lasts while its buckets are beyond the band or, once it has begun,
            # still unusual at the level an alert needs to resolve (the lifecycle's exit
            # share): a shift whose noise dips back into the band now and then is still
            # one departure, and is adopted once it has lasted `adopt_buckets`.
            unusual = metric.score >= config.exit_fraction * config.score_threshold
            departed = metric.outlier | ((before > 0) & unusual)
            streak = np.where(seen_now & departed, before + 1, np.where(seen_now, 0, before))
            adopt = (streak > config.adopt_buckets) & metric.adoptable
            accept = seen_now.copy()
            if name == "count":
                # Silence is never learnt as normal while a baseline exists.
                accept &= ~(silent & metric.outlier)
                adopt &= ~silent
            # A departure longer than a burst is an incident or a shift: the window stands
            # still until it is adopted. Learnt clipped at the band bucket after bucket, it
            # would widen the spread and pull the mean until the departure lay inside the
            # band and was learnt as it is: the alert would resolve while the incident went on.
            held = seen_now & (streak > config.burst_run_buckets) & ~adopt
            if name == "count":
                held &= ~silent  # silence has its own course (`settle_buckets`)
                # A generic value follows a departure with its local level instead
                # (`values.py`); a window standing still would make it look wandering.
                held &= not config.generic_values
            learnt = np.where(adopt, raw[name], metric.learnt)
            self.baselines[name].push(
                rows, slots, steps, raw[name], seen_now, accept, learnt=learnt, hold=held
            )
            excluded_for[rows] = streak
            adopted[name] = adopt
            incident[name] = held
            # What the usual hour may learn: a bucket the window takes in as it is (outside
            # any departure, or adopted) at a level that could be normal. A wide window's
            # band can hold a drop that the usual hour alerts on.
            ordinary[name] = (~(seen_now & departed) | adopt) & metric.adoptable
            tracker = self.bursts.get(name)
            if tracker is not None and metric.drift is not None:
                tracker.learn(rows, metric.z, metric.drift, seen_now & metric.warm)
        if "error_rate" in judged:
            has_records = counts > 0
            learnt_errors = np.where(
                adopted["error_rate"] | (counts < config.min_count),
                errors,
                np.minimum(errors, error_sig.learnt * counts),
            )
            # During an incident the records still enter (quiet buckets are pooled with
            # them), their failures at the service's usual rate: the incident is not learnt.
            learnt_errors = np.where(
                incident["error_rate"], np.minimum(errors, error_sig.mean * counts), learnt_errors
            )
            self.pools["records"].push(rows, slots, steps, counts, has_records, has_records)
            self.pools["errors"].push(
                rows, slots, steps, errors, has_records, has_records, learnt=learnt_errors
            )
        if self.values is not None and value_view is not None:
            (mean, _std, window_n), _recent, _ewma = count_inputs
            usual, variance, known = season
            miss = np.where(known, counts - usual, np.nan)
            # How far the usual hour misses, over its slot's spread, is learnt from ordinary
            # buckets only, as the slots themselves are: an incident is no miss of the hour.
            unit = slot_spread(config, usual, variance, value_view)
            self.values.learn(
                rows, counts, np.where(window_n >= 2, counts - mean, np.nan),
                (miss, np.where(ordinary["count"], miss / unit, np.nan)), value_view.floor,
                traffic.observed,
            )  # fmt: skip
        if "count" in judged and config.seasonal:
            self.season.learn(
                slots, hours, counts, traffic.observed & ~(silent & traffic.outlier),
                ordinary["count"],
            )  # fmt: skip
        self.steps[rows] = steps + 1
        self.changes[rows] += 1
        self.silent_for[rows] = silent_for
        self.last[rows] = np.column_stack(
            [np.full(slots.size, float(bucket.bucket)), counts, errors, bucket.p95_ms,
             bucket.latency_samples]
        )  # fmt: skip
        signals = {metric.name: metric for metric in scored}
        for column, name in enumerate(_JUDGED):
            if name in signals:
                self.last_score[rows, column] = signals[name].score
        if not self.alerts:
            return StepResult(signals=signals, transitions=_NO_TRANSITIONS, items=[])
        verdicts = {k: v for metric in scored for k, v in metric.verdicts.items()}
        transitions = self.lifecycle.step(bucket.bucket, rows, verdicts)
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
            if positions.size:
                items.extend(self._candidates(bucket, signals, transitions, alert_type, positions))
        for alert_type, positions in transitions.recover.items():
            column = TYPE_INDEX[alert_type]
            for position in positions.tolist():
                project, service = self._names(int(bucket.slots[position]))
                metric = signals[_METRIC_OF[alert_type]]
                healthy = int(transitions.healthy_for[position, column])
                recovered = {
                    "metric": metric.name,
                    "observed": number(float(metric.value[position])),
                    "baseline_mean": number(float(metric.mean[position])),
                    "healthy_buckets": healthy,
                    "reasons": [f"back within its usual band for {healthy * size} s"],
                }
                items.append(Recovery(project, service, alert_type, end, recovered))
        return items

    def _candidates(
        self,
        bucket: BucketInput,
        signals: dict[str, MetricSignals],
        transitions: Transitions,
        alert_type: AlertType,
        positions: npt.NDArray[np.intp],
    ) -> list[AlertCandidate]:
        """One candidate per alerting service, its numbers read from the arrays in bulk."""
        size = self.config.bucket_seconds
        column = TYPE_INDEX[alert_type]
        metric = signals[_METRIC_OF[alert_type]]
        slots = bucket.slots[positions]
        context = zip(
            slots.tolist(),
            numbers(metric, positions),
            self.lifecycle.severity[slots, column].tolist(),
            transitions.incident_start[positions, column].tolist(),
            transitions.anomalous_for[positions, column].tolist(),
            bucket.counts[positions].tolist(),
            bucket.errors[positions].tolist(),
            bucket.p95_ms[positions].tolist(),
            bucket.latency_samples[positions].tolist(),
            self.silent_for[slots].tolist(),
            strict=True,
        )
        shared = {"bucket_start": _when(bucket.bucket * size).isoformat(), "bucket_seconds": size}
        end = _when((bucket.bucket + 1) * size)
        made = []
        for slot, row, rank, start, streak, count, errors, p95, timed, silent in context:
            project, service = self._names(slot)
            facts = details(metric.name, row, alert_type, self.config)
            facts.update(shared)
            facts["count"], facts["errors"] = number(count), number(errors)
            facts["error_rate"] = number(errors / count) if count > 0 else 0.0
            if timed > 0:
                facts["latency_p95_ms"] = number(p95)
            facts["anomalous_buckets"] = streak
            if alert_type is AlertType.SERVICE_DOWN:
                facts["silent_seconds"] = silent * size
            sample = bucket.samples.get(slot)
            if sample is not None:
                facts["samples"] = sample.top()
                facts["sampled_errors"] = sample.sampled
            made.append(
                AlertCandidate(
                    project=project,
                    service=service,
                    alert_type=alert_type,
                    severity=SEVERITIES[rank],
                    title=title(service, alert_type, facts, size),
                    window_start=_when(min(start, bucket.bucket) * size),
                    window_end=end,
                    details=facts,
                )
            )
        return made


def _under(state: dict[str, npt.NDArray[Any]], prefix: str) -> dict[str, npt.NDArray[Any]]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def _when(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)
