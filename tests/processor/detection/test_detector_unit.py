"""The detector step on hand-made buckets: ordering, guards, and finiteness under any input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.processor.checks import all_finite
from tracer_core.models import AlertType
from tracer_processor.alerts.reports import AlertCandidate
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.detection.detector import BucketInput, Detector, StepResult

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def detector(**config: Any) -> Detector:
    made = Detector(DetectorConfig(**config), lambda slot: ("p", f"s{slot}"))
    made.ensure_capacity(4)
    return made


def step(made: Detector, bucket: int, counts: list[float], errors: list[float],
         p95: list[float] | None = None) -> StepResult:  # fmt: skip
    n = len(counts)
    return made.step(
        BucketInput(
            bucket=bucket,
            slots=np.arange(n),
            counts=np.array(counts, float),
            errors=np.array(errors, float),
            p95_ms=np.array(p95 or [50.0] * n, float),
            latency_samples=np.array(counts, float),
            partial=np.zeros(n, bool),
            samples={},
        )
    )


def test_a_bucket_is_scored_before_it_enters_the_baseline() -> None:
    made = detector()
    for bucket in range(40):
        step(made, bucket, [200.0], [2.0])
    result = step(made, 40, [200.0], [100.0])
    signals = result.signals["error_rate"]
    assert signals.mean[0] == pytest.approx(0.01)  # the spike is not in its own baseline
    assert signals.z[0] > 20
    candidates = [i for i in result.items if isinstance(i, AlertCandidate)]
    assert [c.alert_type for c in candidates] == [AlertType.ERROR_SPIKE]  # 50 %: critical now
    assert candidates[0].details["baseline_mean"] == pytest.approx(0.01)
    # ...and, being clearly anomalous, it enters clipped: the baseline barely moves.
    after = step(made, 41, [200.0], [2.0]).signals["error_rate"]
    assert 0.01 <= after.mean[0] < 0.012


def test_no_alert_while_warming_up_unless_half_is_failing() -> None:
    made = detector(warmup_buckets=30)
    for bucket in range(10):
        step(made, bucket, [100.0, 100.0], [1.0, 1.0])
    quiet = step(made, 10, [100.0, 100.0], [30.0, 60.0])
    alerting = {item.service for item in quiet.items}
    assert alerting == {"s1"}  # 30 % waits for a baseline; 60 % is an incident anyway


def test_a_quiet_service_cannot_alert_on_a_handful_of_errors() -> None:
    made = detector()
    for bucket in range(60):
        step(made, bucket, [8.0], [0.0])
    result = step(made, 60, [8.0], [4.0])
    assert result.items == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 1e12, allow_nan=False),
            st.floats(0, 1, allow_nan=False),
            st.floats(0, 1e9, allow_nan=False),
        ),
        min_size=35,
        max_size=80,
    )
)
def test_every_number_stays_finite_whatever_the_input(
    buckets: list[tuple[float, float, float]],
) -> None:
    made = detector(warmup_buckets=5, confirm_buckets=1)
    for index, (count, share, p95) in enumerate(buckets):
        count = float(int(count))
        result = step(made, index, [count, 100.0], [math.floor(count * share), 1.0],
                      [p95, 40.0])  # fmt: skip
        for signals in result.signals.values():
            for name in ("value", "mean", "std", "z", "ewma", "ewma_z", "ratio", "change",
                         "score"):  # fmt: skip
                assert np.isfinite(getattr(signals, name)).all(), name
            assert (signals.score >= 0).all()
        for item in result.items:
            assert all_finite(item.details)
