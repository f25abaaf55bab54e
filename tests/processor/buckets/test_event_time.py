"""Event time: out-of-order records within the lateness are counted in their bucket, late ones
are counted as late and nothing else, and replaying old logs gives the live stream's alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.processor.traffic import Harness, Service, generate
from tracer_core.models import AlertType
from tracer_processor.alerts.reports import AlertCandidate, Recovery
from tracer_processor.ingest.batch import LogBatch

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # no inf/NaN arithmetic


def _batch(times: list[float], service: str = "api", errors: int = 0) -> LogBatch:
    n = len(times)
    return LogBatch(
        timestamps=np.array(times),
        projects=["default"] * n,
        services=[service] * n,
        is_error=np.arange(n) < errors,
        durations=np.full(n, 20.0),
        messages=["boom"] * n,
        received=n,
    )


def _last_bucket(harness: Harness, service: str = "api") -> dict[str, object]:
    row = harness.pipeline.services(service=service)[0]
    assert row["last_bucket"] is not None
    return dict(row["last_bucket"])


def test_out_of_order_records_within_the_lateness_land_in_their_bucket() -> None:
    harness = Harness()
    t0 = harness.start.timestamp()
    rng = np.random.default_rng(1)
    times = (t0 + 10 + rng.random(300) * 10).tolist()  # all in bucket [t0+10, t0+20)
    rng.shuffle(times)
    harness.clock.set(harness.start + timedelta(seconds=21))
    harness.ingest(_batch([t0 + 1.0]))  # the service's first record, bucket [t0, t0+10)
    for part in (times[200:], times[:100], times[100:200]):  # shuffled and split
        assert harness.ingest(_batch(part)).late == 0
    harness.clock.set(harness.start + timedelta(seconds=30.5))
    harness.ingest(_batch([t0 + 30.5]))  # event time moves on: [t0+10, t0+20) closes
    assert _last_bucket(harness)["count"] == 300


def test_records_behind_the_watermark_are_counted_late_and_change_nothing() -> None:
    harness = Harness()
    t0 = harness.start.timestamp()
    harness.clock.set(harness.start + timedelta(seconds=35))
    # [t0, t0+30), then t0+30: the watermark (newest - lateness) closes the first two buckets
    harness.ingest(_batch([t0 + 0.5 + i * 0.1 for i in range(300)] + [t0 + 30.0]))
    closed = _last_bucket(harness)
    assert closed["start"] == datetime.fromtimestamp(t0 + 10, UTC).isoformat()
    assert closed["count"] == 100
    outcome = harness.ingest(_batch([t0 + 12.0] * 7 + [t0 + 26.0] * 3, errors=7))
    assert (outcome.accepted, outcome.late) == (10, 7)
    assert _last_bucket(harness) == closed  # the late ones did not reopen a bucket
    metrics = harness.metrics
    assert metrics.late._value.get() == 7
    harness.clock.set(harness.start + timedelta(seconds=41))
    harness.ingest(_batch([t0 + 40.0]))
    assert _last_bucket(harness)["count"] == 103  # the three on time were kept


def test_replaying_old_logs_gives_the_same_alerts_as_the_live_stream() -> None:
    steady = [Service("orders", rate=12.0), Service("billing", rate=9.0, latency_ms=30.0)]
    rng = np.random.default_rng(42)
    start = datetime(2026, 3, 2, 6, 0, tzinfo=UTC).timestamp()
    steps: list[tuple[float, LogBatch]] = []
    t = start
    for index in range(720):  # two hours of 10 s steps
        minute = index / 6
        services = list(steady)
        if 70 <= minute < 74:
            services[0] = steady[0].but(error_rate=0.4)
        if 85 <= minute < 95:
            services = [services[0]]  # billing goes silent for ten minutes
        if 100 <= minute < 104:
            services[0] = services[0].but(latency_ms=400.0)
        steps.append((t + 10, generate(rng, services, t, 10.0)))
        t += 10

    live = Harness(start=datetime.fromtimestamp(start, UTC))
    for arrival, batch in steps:
        live.clock.set(datetime.fromtimestamp(arrival + 1.0, UTC))
        live.ingest(batch)
        live.pipeline.tick()

    replay = Harness(start=datetime.fromtimestamp(start + 6 * 3600, UTC))  # hours later
    everything = _concat([batch for _, batch in steps])
    for offset in range(0, everything.size, 1000):
        outcome = replay.ingest(_slice(everything, offset, offset + 1000))
        assert outcome.rejected == 0
        assert outcome.late == 0
    replay.clock.advance(60)
    replay.pipeline.tick()  # an idle replay flushes its complete buckets

    horizon = datetime.fromtimestamp(t - 30, UTC)
    live_items = _summary(live.sink.items, horizon)
    assert live_items == _summary(replay.sink.items, horizon)
    kinds = {(kind, service, alert_type) for kind, service, alert_type, *_ in live_items}
    assert ("AlertCandidate", "orders", "error_spike") in kinds
    assert ("Recovery", "orders", "error_spike") in kinds
    assert ("AlertCandidate", "billing", "service_down") in kinds
    assert ("Recovery", "billing", "service_down") in kinds
    assert ("AlertCandidate", "orders", "high_latency") in kinds


def _summary(items: list[AlertCandidate | Recovery], horizon: datetime) -> list[tuple[str, ...]]:
    rows = []
    for item in items:
        if item.window_end > horizon:
            continue
        severity = item.severity.value if isinstance(item, AlertCandidate) else ""
        start = item.window_start.isoformat() if isinstance(item, AlertCandidate) else ""
        rows.append(
            (type(item).__name__, item.service, item.alert_type.value, severity, start,
             item.window_end.isoformat())
        )  # fmt: skip
    return sorted(rows, key=lambda row: (row[5], row[1], row[2], row[0]))


def _concat(batches: list[LogBatch]) -> LogBatch:
    order = np.argsort(np.concatenate([b.timestamps for b in batches]), kind="stable")
    projects = [p for b in batches for p in b.projects]
    services = [s for b in batches for s in b.services]
    messages = [m for b in batches for m in b.messages]
    return LogBatch(
        timestamps=np.concatenate([b.timestamps for b in batches])[order],
        projects=[projects[i] for i in order],
        services=[services[i] for i in order],
        is_error=np.concatenate([b.is_error for b in batches])[order],
        durations=np.concatenate([b.durations for b in batches])[order],
        messages=[messages[i] for i in order],
        received=len(order),
    )


def _slice(batch: LogBatch, start: int, stop: int) -> LogBatch:
    return LogBatch(
        timestamps=batch.timestamps[start:stop],
        projects=batch.projects[start:stop],
        services=batch.services[start:stop],
        is_error=batch.is_error[start:stop],
        durations=batch.durations[start:stop],
        messages=batch.messages[start:stop],
        received=min(stop, batch.size) - start,
    )


def test_a_gap_longer_than_the_window_is_skipped_not_walked() -> None:
    harness = Harness()
    service = Service("nightly", rate=10.0)
    harness.run([service], 3600)
    harness.event_time += 3 * 86_400  # three days without a record
    harness.run([service], 600)
    down = harness.candidates(AlertType.SERVICE_DOWN, "nightly")
    assert down
    assert down[-1].severity.value == "critical"
    assert len(harness.recoveries(AlertType.SERVICE_DOWN, "nightly")) == 1
    row = harness.pipeline.services(service="nightly")[0]
    assert row["buckets_scored"] >= 3 * 8640
