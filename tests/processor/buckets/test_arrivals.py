"""Watermarks follow arrivals: a backlog sent in order, or a shipper that pauses and flushes,
loses nothing and raises nothing; a service that really stops is reported down in time."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from tests.processor.traffic import START, Harness, Service
from tracer_core.models import AlertType
from tracer_processor.buckets.aggregator import BucketConfig
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.ingest.batch import LogBatch

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")
SHOP = Service("shop", rate=12.0)
SILENCE = BucketConfig().silence


def records(
    rng: np.random.Generator,
    start: float,
    seconds: float,
    *,
    incident: tuple[float, float] = (0, 0),
) -> LogBatch:
    """`seconds` of shop logs at 12/s in time order; 30 % fail inside `incident` (else 1 %)."""
    n = int(rng.poisson(SHOP.rate * seconds))
    ts = np.sort(start + rng.random(n) * seconds)
    failing = np.where((ts >= incident[0]) & (ts < incident[1]), 0.3, 0.01)
    return LogBatch(
        timestamps=ts,
        projects=["default"] * n,
        services=["shop"] * n,
        is_error=rng.random(n) < failing,
        durations=rng.lognormal(np.log(50.0), 0.25, n),
        messages=["checkout failed: card declined"] * n,
        received=n,
    )


def slices(batch: LogBatch, size: int) -> list[LogBatch]:
    out = []
    for first in range(0, batch.size, size):
        part = slice(first, first + size)
        n = min(size, batch.size - first)
        out.append(
            LogBatch(
                timestamps=batch.timestamps[part],
                projects=batch.projects[part],
                services=batch.services[part],
                is_error=batch.is_error[part],
                durations=batch.durations[part],
                messages=batch.messages[part],
                received=n,
            )
        )
    return out


def send_backlog(harness: Harness, backlog: LogBatch, now: float) -> int:
    """A collector catching up: 1,000-record batches, 50 ms apart, the last ending at `now`."""
    late = 0
    for index, batch in enumerate(slices(backlog, 1000)):
        harness.clock.set(datetime.fromtimestamp(now + index * 0.05, UTC))
        late += harness.ingest(batch).late
        harness.pipeline.tick()
    return late


def test_an_hour_of_backlog_then_live_traffic_is_neither_late_nor_alerting() -> None:
    harness = Harness()
    rng = np.random.default_rng(3)
    now = START.timestamp() + 3600
    late = send_backlog(harness, records(rng, START.timestamp(), 3600), now)
    harness.event_time = now
    harness.run([SHOP], 900)
    assert late == 0
    assert harness.metrics.late._value.get() == 0
    assert harness.candidates() == []
    assert harness.pipeline.services()[0]["buckets_scored"] >= 440


def test_a_backlog_with_a_real_incident_raises_exactly_that_incident() -> None:
    harness = Harness()
    rng = np.random.default_rng(4)
    t0 = START.timestamp()
    incident = (t0 + 40 * 60, t0 + 45 * 60)
    late = send_backlog(harness, records(rng, t0, 3600, incident=incident), t0 + 3600)
    harness.event_time = t0 + 3600
    harness.run([SHOP], 600)
    assert late == 0
    raised = harness.candidates()
    assert raised
    assert {c.alert_type for c in raised} == {AlertType.ERROR_SPIKE}
    for candidate in raised:
        assert incident[0] <= candidate.window_start.timestamp() < incident[1]
    assert harness.recoveries(AlertType.ERROR_SPIKE)


def test_a_shipper_pause_shorter_than_the_silence_loses_nothing() -> None:
    harness = Harness()
    rng = np.random.default_rng(5)
    harness.run([SHOP], 1200)  # warm baselines
    paused_from = harness.event_time
    pause = SILENCE - 5
    for second in range(1, int(pause) + 1):  # the clock runs on, nothing arrives
        harness.clock.set(datetime.fromtimestamp(paused_from + second, UTC))
        harness.pipeline.tick()
    outcome = harness.ingest(records(rng, paused_from, pause))  # the flush
    harness.event_time = paused_from + pause
    harness.run([SHOP], 600)
    assert outcome.late == 0
    assert harness.metrics.late._value.get() == 0
    assert harness.candidates() == []


def test_a_busy_service_that_stops_is_down_within_the_documented_time() -> None:
    config = DetectorConfig()
    harness = Harness(config=config)
    harness.run([SHOP], 1200)
    last_arrival = harness.clock.now().timestamp()
    down_after = None
    for second in range(1, 300):
        harness.clock.set(datetime.fromtimestamp(last_arrival + second, UTC))
        harness.pipeline.tick()
        if harness.candidates(AlertType.SERVICE_DOWN):
            down_after = second
            break
    # The README's promise: the silence period, then `silence_buckets` empty buckets.
    assert down_after is not None
    assert down_after <= SILENCE + config.silence_buckets * config.bucket_seconds
    assert down_after >= SILENCE


def test_a_service_silent_here_but_received_elsewhere_is_not_closed() -> None:
    harness = Harness()
    harness.run([SHOP], 1200)
    left_at = harness.clock.now().timestamp()
    for second in range(1, 600):
        now = left_at + second
        harness.clock.set(datetime.fromtimestamp(now, UTC))
        if second % 5 == 0:  # another replica keeps receiving the service
            harness.pipeline.note_arrivals([("default", "shop", now - 1)])
        harness.pipeline.tick()
    assert harness.candidates() == []
    assert harness.pipeline.quiet_services(SILENCE) == []
    harness.clock.set(datetime.fromtimestamp(left_at + 600 + SILENCE + 60, UTC))
    harness.pipeline.tick()  # and once no replica receives it, it is silent here too
    assert harness.candidates(AlertType.SERVICE_DOWN)


def test_arrivals_to_share_are_those_since_the_last_round() -> None:
    harness = Harness()
    harness.run([SHOP, Service("billing")], 60)
    now = harness.clock.now().timestamp()
    assert sorted(a[1] for a in harness.pipeline.arrivals_since(now)) == ["billing", "shop"]
    assert harness.pipeline.arrivals_since(now + 1) == []
    harness.pipeline.note_arrivals([("default", "unknown", now)])  # ignored, not created
    assert len(harness.pipeline.services()) == 2
