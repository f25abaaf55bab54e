"""Service quotas: junk services that fill the service cap are evicted (barely seen ones,
least recently heard from first) so a real service arriving afterwards is tracked and its
incident detected; established services are never evicted for newcomers."""

from __future__ import annotations

import numpy as np

from tests.processor.traffic import Harness, Service
from tracer_core.models import AlertType
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.ingest.batch import LogBatch

CAP = 40


def junk(names: list[str], at: float, sender: str | None = None) -> LogBatch:
    n = len(names)
    return LogBatch(
        sender=sender,
        timestamps=np.full(n, at),
        projects=["default"] * n,
        services=names,
        is_error=np.zeros(n, np.bool_),
        durations=np.full(n, 5.0),
        messages=["junk"] * n,
        received=n,
    )


def evicted(harness: Harness) -> float:
    value = harness.metrics.services_evicted._value.get()
    return float(value)


def test_junk_services_at_the_cap_leave_a_real_service_detected() -> None:
    harness = Harness(config=DetectorConfig(warmup_buckets=6, window_buckets=60), seed=3)
    harness.pipeline.registry.max_services = CAP
    checkout, payments = Service("checkout", rate=10.0), Service("payments", rate=10.0)
    harness.run([checkout], 120)
    flood = iter(f"junk-{i}" for i in range(10_000))
    outcome = harness.ingest(junk([next(flood) for _ in range(CAP)], harness.event_time - 1))
    assert outcome.rejected == 1  # the cap is reached (junk of one batch never evicts itself)
    for _ in range(30):  # the real service arrives while junk keeps pouring in
        harness.run([checkout, payments], 10)
        harness.ingest(junk([next(flood) for _ in range(20)], harness.event_time - 0.5))
    assert len(harness.pipeline.registry) == CAP
    assert evicted(harness) > 0
    harness.run([checkout, payments.but(error_rate=0.6)], 40)
    assert harness.candidates(AlertType.ERROR_SPIKE, service="payments")
    assert harness.pipeline.services(service="checkout")[0]["service"] == "checkout"


def test_a_project_quota_evicts_within_the_project_only() -> None:
    harness = Harness(config=DetectorConfig(warmup_buckets=6, window_buckets=60), seed=4)
    harness.pipeline.registry.max_per_project = 5
    other = Service("api", rate=5.0, project="other")
    harness.run([Service("checkout", rate=5.0), other], 120)
    for wave in range(3):
        names = [f"junk-{wave}-{i}" for i in range(4)]
        outcome = harness.ingest(junk(names, harness.event_time - 0.5))
        assert outcome.accepted == 4  # each new junk service evicts an older junk one
    projects = {key[0] for key, _ in harness.pipeline.registry.items()}
    assert projects == {"default", "other"}
    assert len(harness.pipeline.services(project="default")) == 5
    assert harness.pipeline.services(project="default", service="checkout")


def test_junk_from_one_key_evicts_only_its_own_services() -> None:
    harness = Harness(config=DetectorConfig(warmup_buckets=6, window_buckets=60), seed=5)
    harness.pipeline.registry.max_per_sender = 10
    checkout, payments = Service("checkout", rate=10.0), Service("payments", rate=10.0)
    harness.run([checkout], 60, sender="good-key")
    flood = iter(f"junk-{i}" for i in range(10_000))
    for _ in range(30):  # a leaked key pours in junk services while real traffic goes on
        outcome = harness.ingest(
            junk([next(flood) for _ in range(8)], harness.event_time - 0.5, sender="leaked-key")
        )
        assert outcome.accepted == 8  # its own oldest junk makes room
        harness.run([checkout, payments], 10, sender="good-key")
    owned = harness.pipeline.registry.slots_of_sender("leaked-key")
    assert owned.size == 10
    assert harness.metrics.services_evicted_for_key._value.get() > 0
    harness.run([checkout, payments.but(error_rate=0.6)], 40, sender="good-key")
    assert harness.candidates(AlertType.ERROR_SPIKE, service="payments")
    assert harness.pipeline.services(service="checkout")


def test_a_key_at_its_quota_is_refused_when_its_services_are_established() -> None:
    harness = Harness(config=DetectorConfig(warmup_buckets=3, window_buckets=60), seed=6)
    harness.pipeline.registry.max_per_sender = 2
    harness.run([Service("a", rate=5.0), Service("b", rate=5.0)], 120, sender="k")
    outcome = harness.ingest(junk(["c"], harness.event_time - 0.5, sender="k"))
    assert (outcome.accepted, outcome.rejected) == (0, 1)
    assert "per ingest key" in outcome.errors[0].error
    assert harness.ingest(junk(["c"], harness.event_time - 0.5, sender="other")).accepted == 1
