"""Generic values (`--kind value`): scale-free floors, routine spikes, shifts and walks."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from tracer.eval.score import alarms
from tracer_processor.detection.backtest import Kind, ScoredSeries, score_series
from tracer_processor.detection.bursts import BurstTracker
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.detection.values import ValueScale, decimal_resolution

STEP = 300.0
DAY = 288  # 5-minute points


def _score(values: npt.NDArray[np.float64]) -> ScoredSeries:
    times = 1_772_409_600.0 + STEP * np.arange(values.size, dtype=np.float64)
    return score_series([(times, values)], kind=Kind.VALUE, alerts=True)[0]


def _noise(seed: int, points: int) -> npt.NDArray[np.float64]:
    return np.random.default_rng(seed).standard_normal(points)


def test_decimal_resolution_is_the_coarsest_unit_a_value_is_a_multiple_of() -> None:
    got = decimal_resolution(np.array([42.0, 20.5, 40.0, 3e-9, 0.30000000000000004, 0.0]))
    assert got[:5].tolist() == [1.0, 0.1, 10.0, 1e-9, 0.1]
    assert np.isinf(got[5])  # zero says nothing about resolution


def test_a_ten_sigma_shift_is_found_at_any_scale() -> None:
    points, start = 3 * DAY, 2 * DAY
    for level, sigma in ((1.0e12, 1.0e9), (300.0, 0.5), (1.0e-9, 1.0e-10)):
        values = level + sigma * _noise(7, points)
        values[start : start + 12] += 10 * sigma
        result = _score(values)
        assert result.flags[start : start + 12].any(), level
        assert not result.flags[DAY:start].any(), level  # and the quiet day stays quiet


def test_one_quantum_step_of_a_constant_series_is_not_an_incident() -> None:
    values = np.full(2 * DAY, 42.0)
    values[DAY:] = 43.0
    result = _score(values)
    assert not result.flags.any()
    assert result.scores.max() < 6.0
    values[DAY:] = 60.0  # eighteen units is
    assert _score(values).flags[DAY : DAY + 6].any()


def test_routine_spikes_of_a_mostly_zero_series_are_learnt_and_a_sustained_rise_is_not() -> None:
    rng = np.random.default_rng(11)
    points = 10 * DAY
    values = np.zeros(points)
    spikes = rng.random(points) < 0.015
    values[spikes] = rng.exponential(30.0, int(spikes.sum()))
    quiet = _score(values)
    # Its first spikes teach it their size and rate; then a week of them is no news.
    assert quiet.flags[: 3 * DAY].sum() <= 2
    assert not quiet.flags[3 * DAY :].any()
    values[9 * DAY : 9 * DAY + 24] = 30.0  # two hours of a sustained rise
    assert _score(values).flags[9 * DAY : 9 * DAY + 24].any()


def test_a_persistent_step_alerts_once_and_is_learnt() -> None:
    points, start = 6 * DAY, 2 * DAY
    values = 50.0 + 2.0 * _noise(3, points)
    values[start:] += 30.0
    result = _score(values)
    found = [a for a in alarms(result.flags, result.alert_open) if a >= DAY]
    assert len(found) == 1
    assert start <= found[0] < start + 6
    assert result.flags.sum() <= 100  # then taken in, not flagged for days
    assert not result.flags[start + DAY :].any()


def test_a_random_walk_is_judged_by_its_steps_not_its_wander() -> None:
    points, jump = 8 * DAY, 6 * DAY
    walk = 1000.0 + np.cumsum(_noise(5, points))
    quiet = _score(walk)
    assert len([a for a in alarms(quiet.flags, quiet.alert_open) if a >= DAY]) <= 1
    walk[jump:] += 15.0  # a jump fifteen times its usual step
    assert _score(walk).flags[jump : jump + 12].any()


def _feed(scale: ValueScale, values: npt.NDArray[np.float64]) -> list[float]:
    """Step one series through `scale` as the detector does; the floor before each value."""
    floors = []
    rows = slice(0, 1)
    for value in values.tolist():
        level = np.array([0.0])
        now = np.array([value])
        view = scale.view(rows, level, now)
        floors.append(float(view.floor[0]))
        nan = np.array([np.nan])
        scale.learn(rows, now, nan, (nan, nan), view.floor, np.array([True]))
    return floors


def test_the_least_step_of_a_spiky_series_settles_where_the_smallest_would_shrink() -> None:
    rng = np.random.default_rng(4)
    values = np.zeros(40 * DAY)
    spikes = rng.random(values.size) < 0.02
    values[spikes] = rng.exponential(30.0, int(spikes.sum()))
    scale = ValueScale(DetectorConfig(generic_values=True))
    scale.ensure_capacity(1)
    floors = np.array(_feed(scale, values))
    seen = np.cumsum(spikes)
    after_50, after_200 = floors[np.argmax(seen >= 50)], floors[np.argmax(seen >= 200)]
    assert 0.5 < after_200 / after_50 < 2.0  # settled, where the least spike keeps falling
    assert 0.3 < after_200 < 3.0  # half the least spike in about forty (of 30 on average)


def test_a_rounded_metric_counts_in_its_own_steps() -> None:
    values = np.round(40.0 + 0.3 * _noise(9, 2 * DAY))  # mostly 40, now and then 39 or 41
    scale = ValueScale(DetectorConfig(generic_values=True))
    scale.ensure_capacity(1)
    assert _feed(scale, values)[-1] == pytest.approx(0.5, rel=1e-6)


def test_a_series_constant_while_it_warmed_up_still_learns_its_errors() -> None:
    values = np.r_[np.full(60, 5.0), 5.0 + _noise(2, 200)]
    scale = ValueScale(DetectorConfig(generic_values=True))
    scale.ensure_capacity(1)
    _feed(scale, values)
    assert 0.5 < float(np.sqrt(scale.local_sq[0])) < 3.0


def test_the_usual_hour_is_judged_in_units_of_how_far_it_has_missed() -> None:
    config = DetectorConfig(generic_values=True)
    scale = ValueScale(config)
    scale.ensure_capacity(1)
    rows, one = slice(0, 1), np.array([True])
    misses = 1.5 * _noise(6, 2000)  # the hour misses by 1.5 of its slot's spread
    for miss in misses.tolist():
        ratio = np.array([miss])
        scale.learn(rows, np.zeros(1), np.zeros(1), (ratio, ratio), np.ones(1), one)
    widen = float(scale.view(rows, np.zeros(1), np.zeros(1)).season_widen[0])
    assert widen == pytest.approx(1.5, rel=0.1)
    # An incident (not ordinary: no ratio to learn) does not widen it.
    for _ in range(100):
        far, none = np.array([40.0]), np.array([np.nan])
        scale.learn(rows, np.zeros(1), np.zeros(1), (far, none), np.ones(1), one)
    assert scale.view(rows, np.zeros(1), np.zeros(1)).season_widen[0] == pytest.approx(widen)
    # A slot that overstates the misses is never trusted to be tighter than it says.
    calm = ValueScale(config)
    calm.ensure_capacity(1)
    for miss in (0.3 * misses).tolist():
        ratio = np.array([miss])
        calm.learn(rows, np.zeros(1), np.zeros(1), (ratio, ratio), np.ones(1), one)
    assert calm.view(rows, np.zeros(1), np.zeros(1)).season_widen[0] == 1.0


def test_a_spike_far_beyond_the_usual_ones_is_flagged_and_the_usual_ones_are_not() -> None:
    for seed in range(1, 6):
        rng = np.random.default_rng(seed)
        values = np.zeros(10 * DAY)
        spikes = rng.random(values.size) < 0.015
        values[spikes] = rng.exponential(30.0, int(spikes.sum()))
        at = 9 * DAY + 7
        values[at] = 12.0 * values[:at].max()  # twelve times the largest so far
        result = _score(values)
        assert result.flags[at], seed
        assert result.flags[3 * DAY :].sum() == 1, seed


def test_a_heavy_tailed_metrics_first_large_deviation_is_not_yet_an_incident() -> None:
    # Student-t (3) noise: its first deviation of five spreads comes within days. Having
    # seen no burst in a day or two says its burst rate is below about one in a few hundred
    # buckets, not one in a million; a count's Poisson noise is a law, and says more.
    generic = BurstTracker(DetectorConfig(generic_values=True))
    counted = BurstTracker(DetectorConfig())
    for tracker in (generic, counted):
        tracker.ensure_capacity(1)
        calm = _noise(8, 500) * 0.8
        for z in calm.tolist():
            tracker.learn(slice(0, 1), np.array([z]), np.zeros(1), np.array([True]))
    five = np.array([5.5])
    up_generic = generic.judge(slice(0, 1), five, np.array([True]))[0][0]
    up_counted = counted.judge(slice(0, 1), five, np.array([True]))[0][0]
    assert up_generic < 6.0 < up_counted
