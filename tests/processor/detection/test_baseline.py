"""The rolling baseline: O(1) updates that forget, exact sums, and holes that stay out."""

from __future__ import annotations

import numpy as np
import pytest

from tracer_processor.buckets.registry import rows_of
from tracer_processor.detection.baseline import RollingBaseline

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def feed(baseline: RollingBaseline, values: list[float], *, slot: int = 0, start: int = 0,
         accept: list[bool] | None = None) -> None:  # fmt: skip
    slots = np.array([slot])
    for step, value in enumerate(values):
        keep = np.array([True if accept is None else accept[step]])
        baseline.push(rows_of(slots), slots, np.array([start + step]), np.array([value]),
                      np.array([True]), keep)  # fmt: skip


def stats(baseline: RollingBaseline, slot: int = 0) -> tuple[float, float, int]:
    mean, std, n = baseline.stats(np.array([slot]))
    return float(mean[0]), float(std[0]), int(n[0])


def test_it_forgets_a_regime_after_one_window() -> None:
    baseline = RollingBaseline(window=10, recent=3, ewma_alpha=0.3)
    baseline.ensure_capacity(1)
    feed(baseline, [100.0] * 10)
    assert stats(baseline) == (100.0, 0.0, 10)
    feed(baseline, [5.0] * 4, start=10)
    mean, _, n = stats(baseline)
    assert n == 10
    assert mean == pytest.approx((6 * 100 + 4 * 5) / 10)
    feed(baseline, [5.0] * 6, start=14)
    assert stats(baseline) == (5.0, 0.0, 10)  # nothing of the old regime is left


def test_holes_stay_out_and_age_out_like_values() -> None:
    baseline = RollingBaseline(window=4, recent=2, ewma_alpha=0.5)
    baseline.ensure_capacity(1)
    feed(baseline, [1.0, 2.0, 1000.0, 3.0], accept=[True, True, False, True])
    mean, std, n = stats(baseline)
    assert (mean, n) == (2.0, 3)
    assert std == pytest.approx(np.std([1.0, 2.0, 3.0]))
    feed(baseline, [4.0, 5.0], start=4)  # overwrites 1.0 and 2.0
    mean, _, n = stats(baseline)
    assert (mean, n) == (4.0, 3)
    previous, count = baseline.previous_mean(np.array([0]))
    assert (float(previous[0]), int(count[0])) == (4.5, 2)  # the last two raw observations


def test_a_held_window_keeps_what_it_held_however_long_the_hold_lasts() -> None:
    baseline = RollingBaseline(window=4, recent=2, ewma_alpha=0.5)
    baseline.ensure_capacity(1)
    feed(baseline, [1.0, 2.0, 3.0, 4.0])
    slots = np.array([0])
    for step in range(4, 13):  # more than two laps of the ring
        baseline.push(rows_of(slots), slots, np.array([step]), np.array([50.0]),
                      np.array([True]), np.array([True]), hold=np.array([True]))  # fmt: skip
    mean, std, n = stats(baseline)
    assert (mean, n) == (2.5, 4)
    assert std == pytest.approx(np.std([1.0, 2.0, 3.0, 4.0]))
    previous, _ = baseline.previous_mean(slots)
    assert float(previous[0]) == 50.0  # the recent ring still sees what happens
    feed(baseline, [9.0], start=13)  # the window moves on from where it stood
    assert stats(baseline)[0] == pytest.approx((1.0 + 9.0 + 3.0 + 4.0) / 4)


def test_running_sums_match_a_recomputation_after_many_laps() -> None:
    rng = np.random.default_rng(1)
    baseline = RollingBaseline(window=37, recent=5, ewma_alpha=0.3)
    baseline.ensure_capacity(3)
    values = rng.lognormal(8, 2, (3, 2000))
    accept = rng.random((3, 2000)) > 0.1
    slots = np.arange(3)
    for step in range(2000):
        baseline.push(rows_of(slots), slots, np.full(3, step), values[:, step], np.ones(3, bool),
                      accept[:, step])  # fmt: skip
    mean, std, n = baseline.stats(slots)
    for slot in range(3):
        window = values[slot, -37:].astype(np.float32).astype(np.float64)[accept[slot, -37:]]
        assert n[slot] == window.size
        assert mean[slot] == pytest.approx(window.mean(), rel=1e-9)
        assert std[slot] == pytest.approx(window.std(), rel=1e-6)


def test_services_are_independent_and_reset_forgets_one() -> None:
    baseline = RollingBaseline(window=5, recent=2, ewma_alpha=0.3)
    baseline.ensure_capacity(2)
    feed(baseline, [10.0] * 5, slot=0)
    feed(baseline, [20.0] * 5, slot=1)
    baseline.reset(np.array([0]))
    assert stats(baseline, 0) == (0.0, 0.0, 0)
    assert stats(baseline, 1) == (20.0, 0.0, 5)


def test_huge_values_stay_finite() -> None:
    baseline = RollingBaseline(window=5, recent=2, ewma_alpha=0.3)
    baseline.ensure_capacity(1)
    feed(baseline, [1e308, -1e308, 3.0])
    mean, std, _ = stats(baseline)
    assert np.isfinite([mean, std]).all()
