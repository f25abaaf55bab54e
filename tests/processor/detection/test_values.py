"""Generic values (`--kind value`): scale-free floors, routine spikes, shifts and walks."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tracer.eval.score import alarms
from tracer_processor.detection.backtest import Kind, ScoredSeries, score_series
from tracer_processor.detection.values import decimal_resolution

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
