"""Seeded synthetic traffic and a harness that drives the real detection pipeline on a
controlled clock, for the detector's behaviour tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
from prometheus_client import CollectorRegistry

from tracer_core.clock import ManualClock
from tracer_core.models import AlertType
from tracer_processor.alerts.reports import AlertCandidate, Recovery
from tracer_processor.buckets.aggregator import BucketConfig
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.ingest.batch import LogBatch
from tracer_processor.metrics import ProcessorMetrics
from tracer_processor.pipeline import IngestOutcome, Pipeline

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Service:
    name: str
    rate: float = 10.0  # records per second
    error_rate: float = 0.01
    latency_ms: float = 50.0  # median of a log-normal
    project: str = "default"

    def but(self, **changes: float) -> Service:
        return replace(self, **changes)  # type: ignore[arg-type]


class CollectingSink:
    def __init__(self) -> None:
        self.items: list[AlertCandidate | Recovery] = []

    def submit(self, item: AlertCandidate | Recovery) -> None:
        self.items.append(item)


def generate(
    rng: np.random.Generator, services: Sequence[Service], start: float, seconds: float
) -> LogBatch:
    """Records of every service in [start, start + seconds), in time order."""
    stamps, projects, names, errors, durations, messages = [], [], [], [], [], []
    for service in services:
        n = int(rng.poisson(service.rate * seconds))
        stamps.append(start + rng.random(n) * seconds)
        failed = rng.random(n) < service.error_rate
        errors.append(failed)
        durations.append(rng.lognormal(np.log(service.latency_ms), 0.25, n))
        projects += [service.project] * n
        names += [service.name] * n
        ids = rng.integers(10_000, 99_999, n)
        messages += [
            f"payment {i} failed: upstream timeout after {i % 997} ms" if bad else "ok"
            for i, bad in zip(ids.tolist(), failed.tolist(), strict=True)
        ]
    ts = np.concatenate(stamps) if stamps else np.empty(0)
    order = np.argsort(ts, kind="stable")
    return LogBatch(
        timestamps=ts[order],
        projects=[projects[i] for i in order],
        services=[names[i] for i in order],
        is_error=np.concatenate(errors)[order] if errors else np.empty(0, bool),
        durations=np.concatenate(durations)[order] if durations else np.empty(0),
        messages=[messages[i] for i in order],
        received=int(ts.size),
    )


@dataclass
class Harness:
    """A pipeline on a manual clock; `run` plays traffic as a live stream would arrive."""

    config: DetectorConfig = field(default_factory=DetectorConfig)
    buckets: BucketConfig | None = None
    seed: int = 7
    start: datetime = START

    def __post_init__(self) -> None:
        self.clock = ManualClock(self.start)
        self.sink = CollectingSink()
        self.rng = np.random.default_rng(self.seed)
        self.metrics = ProcessorMetrics(CollectorRegistry())
        self.pipeline = Pipeline(
            buckets=self.buckets
            or BucketConfig(
                bucket_seconds=self.config.bucket_seconds,
                skip_gap_after=self.config.settle_buckets,
            ),
            detector=self.config,
            sink=self.sink,
            clock=self.clock,
            metrics=self.metrics,
            max_services=10_000,
        )
        self.event_time = self.start.timestamp()

    def run(
        self,
        services: Sequence[Service],
        seconds: float,
        *,
        step: float = 10.0,
        sender: str | None = None,
    ) -> None:
        """`seconds` of traffic, sent every `step` seconds, arriving one second late
        (`sender`: the ingest key it comes with)."""
        end = self.event_time + seconds
        while self.event_time < end - 1e-9:
            span = min(step, end - self.event_time)
            batch = generate(self.rng, services, self.event_time, span)
            batch.sender = sender
            self.event_time += span
            self.clock.set(datetime.fromtimestamp(self.event_time + 1.0, UTC))
            self.pipeline.ingest(batch)
            self.pipeline.tick()

    def ingest(self, batch: LogBatch) -> IngestOutcome:
        return self.pipeline.ingest(batch)

    def candidates(
        self, alert_type: AlertType | None = None, service: str | None = None
    ) -> list[AlertCandidate]:
        return [
            item
            for item in self.sink.items
            if isinstance(item, AlertCandidate)
            and (alert_type is None or item.alert_type is alert_type)
            and (service is None or item.service == service)
        ]

    def recoveries(
        self, alert_type: AlertType | None = None, service: str | None = None
    ) -> list[Recovery]:
        return [
            item
            for item in self.sink.items
            if isinstance(item, Recovery)
            and (alert_type is None or item.alert_type is alert_type)
            and (service is None or item.service == service)
        ]

    def open_types(self, service: str, project: str = "default") -> set[str]:
        rows = self.pipeline.services(project=project, service=service)
        return {alert["alert_type"] for alert in rows[0]["open_alerts"]} if rows else set()
