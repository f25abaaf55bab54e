"""Baseline checkpoints in PostgreSQL: a restored detector scores exactly as the one that was
saved, a restarted processor detects at once where a fresh one is still warming up, and
stale, corrupt or incompatible checkpoints are skipped without harm."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np
import pytest

from tests.processor.traffic import Harness, Service
from tracer_core.models import AlertType
from tracer_processor.checkpoints.checkpointer import Checkpointer
from tracer_processor.checkpoints.codec import CheckpointCodec
from tracer_processor.checkpoints.store import CheckpointStore, StoredCheckpoint
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.detection.detector import BucketInput, Detector, StepResult

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # no inf/NaN arithmetic
FLEET = [Service(f"svc-{i}", rate=8.0 + 4 * i, error_rate=0.01 + 0.005 * i) for i in range(5)]


def checkpointer(harness: Harness, pool: asyncpg.Pool, name: str = "replica-a") -> Checkpointer:
    store = CheckpointStore(pool, saved_by=name)
    return Checkpointer(harness.pipeline, store, clock=harness.clock, interval=60.0)


def restarted(before: Harness, *, seed: int, gap: float = 0.0) -> Harness:
    """A fresh pipeline whose clock starts where `before` stopped (plus `gap` of downtime)."""
    after = Harness(seed=seed, start=before.start)
    after.event_time = before.event_time + gap
    after.clock.set(before.clock.now() + timedelta(seconds=gap))
    return after


def slots_of(detector: Detector, harness: Harness) -> np.ndarray:
    registry = harness.pipeline.registry
    return np.array([registry.lookup(["default"], [s.name])[0][0] for s in FLEET], np.intp)


def next_buckets(first: int, count: int) -> list[dict[str, np.ndarray]]:
    """Seeded bucket contents for the fleet, with an error spike and a latency jump."""
    rng = np.random.default_rng(2024)
    buckets = []
    for step in range(count):
        counts = rng.poisson([s.rate * 10 for s in FLEET]).astype(np.float64)
        rates = np.array([s.error_rate for s in FLEET])
        if 3 <= step < 7:
            rates[1] = 0.3  # an incident on svc-1
        errors = rng.binomial(counts.astype(np.int64), rates).astype(np.float64)
        p95 = rng.normal(70.0, 4.0, len(FLEET))
        if 5 <= step < 9:
            p95[3] *= 3.0  # and slow responses on svc-3
        buckets.append(
            {"bucket": np.array(first + step), "counts": counts, "errors": errors, "p95": p95}
        )
    return buckets


def step(detector: Detector, slots: np.ndarray, contents: dict[str, np.ndarray]) -> StepResult:
    order = np.argsort(slots)  # a bucket's slots are sorted
    return detector.step(
        BucketInput(
            bucket=int(contents["bucket"]),
            slots=slots[order],
            counts=contents["counts"][order],
            errors=contents["errors"][order],
            p95_ms=contents["p95"][order],
            latency_samples=contents["counts"][order],
            partial=np.zeros(len(FLEET), np.bool_),
            samples={},
        )
    )


def comparable(result: StepResult, slots: np.ndarray) -> dict[str, object]:
    """A step's signals and decisions in fleet order (slots differ between the detectors)."""
    back = np.argsort(np.argsort(slots))
    signals: dict[str, object] = {}
    for name, metric in result.signals.items():
        for field in dataclasses.fields(metric):
            value = getattr(metric, field.name)
            if isinstance(value, np.ndarray):
                signals[f"{name}.{field.name}"] = value[back].tolist()
        for alert_type, verdict in metric.verdicts.items():
            signals[f"{alert_type}.anomalous"] = verdict.anomalous[back].tolist()
            signals[f"{alert_type}.severity"] = verdict.severity[back].tolist()
    signals["items"] = [
        (i.service, i.alert_type, getattr(i, "severity", None), i.details) for i in result.items
    ]
    return signals


async def test_a_restored_detector_scores_exactly_as_the_one_saved(pool: asyncpg.Pool) -> None:
    original = Harness(seed=5)
    original.run(FLEET, 1800)  # half an hour: warm, rings part full
    original.run([FLEET[0], FLEET[1].but(error_rate=0.4), *FLEET[2:]], 30)  # an open alert
    original.run(FLEET, 120)
    assert await checkpointer(original, pool).save() == len(FLEET)

    copy = restarted(original, seed=99)
    assert await checkpointer(copy, pool, "replica-b").restore() == len(FLEET)

    a, b = original.pipeline.detector, copy.pipeline.detector
    slots_a, slots_b = slots_of(a, original), slots_of(b, copy)
    assert int(a.steps[slots_a].min()) > 180  # past warm-up: this is a warm detector
    first = int(a.last[slots_a, 0].max()) + 1
    decided = 0
    for contents in next_buckets(first, 20):
        result_a, result_b = step(a, slots_a, contents), step(b, slots_b, contents)
        assert comparable(result_a, slots_a) == comparable(result_b, slots_b)
        decided += len(result_a.items)
    assert decided >= 2  # the comparison covered real decisions (an alert and its recovery)
    state_a, state_b = a.export(slots_a), b.export(slots_b)
    for name, value in state_a.items():
        assert np.array_equal(value, state_b[name]), name


def spike_after_restart(harness: Harness) -> None:
    """Ten buckets right after a restart, svc-2 failing at 20 % (high, yet under the 50 %
    at which even a cold detector alerts)."""
    harness.run([*FLEET[:2], FLEET[2].but(error_rate=0.2), *FLEET[3:]], 100)


async def test_a_restarted_processor_detects_at_once_with_a_checkpoint(
    pool: asyncpg.Pool,
) -> None:
    before = Harness(seed=8)
    before.run(FLEET, 900)
    assert before.sink.items == []
    assert await checkpointer(before, pool).save() == len(FLEET)

    warm = restarted(before, seed=41, gap=40.0)  # a rolling deploy: 40 s without it
    assert await checkpointer(warm, pool, "replica-b").restore() == len(FLEET)
    cold = restarted(before, seed=41, gap=40.0)  # the same traffic, no checkpoint

    spike_after_restart(warm)
    spike_after_restart(cold)

    found = warm.candidates(service="svc-2")
    assert [c.alert_type for c in found][:1] == [AlertType.ERROR_SPIKE]
    assert found[0].details["baseline_buckets"] >= 80
    assert found[0].window_end <= warm.clock.now()
    assert cold.sink.items == []  # still warming up: blind to the same incident
    # Neither the restart gap nor the partial first bucket looks like a traffic problem.
    assert {c.alert_type for c in warm.candidates()} == {AlertType.ERROR_SPIKE}
    assert {c.service for c in warm.candidates()} == {"svc-2"}


async def test_stale_corrupt_and_incompatible_checkpoints_are_skipped(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    source = Harness(seed=12)
    source.run(FLEET[:1], 600)
    saver = checkpointer(source, pool)
    assert await saver.save() == 1
    store = CheckpointStore(pool, saved_by="elsewhere")
    good = (await store.load(since=datetime(2000, 1, 1, tzinfo=UTC), limit=10))[0]
    end = good.bucket_end
    blob = bytearray(good.state)
    with_nan = bytearray(blob)
    codec = saver.codec
    fields = codec.dtype.fields
    assert fields is not None
    at = len(blob) - codec.dtype.itemsize + fields["count.ewma"][1]
    with_nan[at : at + 8] = np.float64("nan").tobytes()
    other = Harness(config=DetectorConfig(window_buckets=120), seed=1)
    other.run(FLEET[1:2], 300)
    other_blob = CheckpointCodec(other.pipeline.detector).encode(
        other.pipeline.detector.export(np.array([0], np.intp))
    )[0]
    await store.save(
        [
            StoredCheckpoint("default", "stale", end - timedelta(hours=2), bytes(blob)),
            StoredCheckpoint("default", "garbage", end, b"\x00not a checkpoint at all"),
            StoredCheckpoint("default", "truncated", end, bytes(blob[:-100])),
            StoredCheckpoint("default", "not-finite", end, bytes(with_nan)),
            StoredCheckpoint("default", "other-window", end, other_blob),
            StoredCheckpoint("default", "empty", end, b""),
        ]
    )

    fresh = restarted(source, seed=2)
    with caplog.at_level(logging.WARNING, logger="tracer_processor.checkpoints.checkpointer"):
        assert await checkpointer(fresh, pool, "replica-b").restore() == 1
    assert [row["service"] for row in fresh.pipeline.services()] == [FLEET[0].name]
    warnings = " | ".join(r.getMessage() for r in caplog.records)
    for reason in ("another detector layout", "non-finite", "too short", "expected", "not a"):
        assert reason in warnings
    stale_left = await pool.fetchval(
        "SELECT count(*) FROM baseline_checkpoints WHERE service = 'stale'"
    )
    assert stale_left == 0  # pruned: older than the rolling window

    # The restored service carries on, the skipped ones start from nothing, all finite.
    fresh.run([FLEET[0], Service("garbage")], 60)
    rows = {row["service"]: row for row in fresh.pipeline.services()}
    assert rows[FLEET[0].name]["baselines"]["error_rate"]["buckets"] > 50
    assert rows["garbage"]["baselines"]["error_rate"]["buckets"] < 10


async def test_an_older_checkpoint_never_replaces_a_newer_one(pool: asyncpg.Pool) -> None:
    store = CheckpointStore(pool, saved_by="replica-a")
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    await store.save([StoredCheckpoint("p", "s", now, b"new")])
    await store.save([StoredCheckpoint("p", "s", now - timedelta(seconds=10), b"old")])
    loaded = await store.load(since=now - timedelta(hours=1), limit=10)
    assert [(c.service, c.state) for c in loaded] == [("s", b"new")]


async def test_a_restored_service_that_never_returns_is_forgotten(pool: asyncpg.Pool) -> None:
    before = Harness(seed=4)
    before.run(FLEET[:2], 400)
    assert await checkpointer(before, pool).save() == 2
    after = restarted(before, seed=5)
    assert await checkpointer(after, pool, "replica-b").restore() == 2
    after.run(FLEET[:1], 60)  # only svc-0 comes back
    after.clock.advance(86_400 + 1)
    after.pipeline.tick()  # a day later (svc-0 went silent: it is kept for its alert)
    assert FLEET[1].name not in {row["service"] for row in after.pipeline.services()}
    after.run(FLEET[1:2], 30)  # a service forgotten that way starts over, without errors
    row = after.pipeline.services(service=FLEET[1].name)[0]
    assert row["baselines"]["error_rate"]["buckets"] <= 3
