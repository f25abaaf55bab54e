"""Series in wide (5-minute) buckets: a drop at a busy hour, a dropout of a few points, and
one alert for a persisting shift.

With 5-minute buckets the rolling window spans more than a day, so its mean averages the
whole daily rhythm; a dropout is a run of points that the service's noise, however heavy
its tails, does not produce; and a shift that persists is one incident for the product.
"""

from __future__ import annotations

import numpy as np
import pytest

from tracer.eval.score import alarms
from tracer_processor.detection.backtest import Kind, score_series
from tracer_processor.detection.config import DETECTOR_DEFAULTS

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # no inf/NaN arithmetic
STEP = 300.0
DAY = 288  # points
START = 1_772_409_600.0  # a Monday, 00:00 UTC


def _times(points: int) -> np.ndarray:
    return START + STEP * np.arange(points, dtype=np.float64)


def _rhythm(points: int) -> np.ndarray:
    hours = (np.arange(points) * STEP / 3600.0) % 24
    return np.asarray(0.2 + 1.3 * np.exp(-0.5 * ((hours - 13.0) / 4.0) ** 2), np.float64)


def test_a_drop_at_a_busy_hour_of_a_daily_rhythm_alerts_traffic_drop() -> None:
    rng = np.random.default_rng(7)
    points = 5 * DAY
    expected = 3000.0 * _rhythm(points) * rng.lognormal(0.0, 0.05, points)
    drop = 4 * DAY + 13 * 12  # 13:00 on the fifth day, the busiest hour
    expected[drop : drop + 8] *= 0.35
    counts = rng.poisson(expected).astype(np.float64)
    (scored,) = score_series([(_times(points), counts)], kind=Kind.COUNT)
    hits = np.flatnonzero(scored.flags[drop : drop + 8])
    assert hits.size
    assert hits[0] <= 1
    assert scored.reasons[drop + int(hits[0])].startswith("traffic_drop")
    assert not scored.flags[DAY:drop].any()  # the rhythm itself never alerts


def _heavy_noise(rng: np.random.Generator, points: int) -> np.ndarray:
    """AR(1) noise with Student-t (5) shocks: correlated, with tails far beyond normal."""
    shocks = rng.standard_t(5, points) * np.sqrt(1 - 0.5**2)
    out = np.empty(points)
    out[0] = shocks[0]
    for i in range(1, points):
        out[i] = 0.5 * out[i - 1] + shocks[i]
    return out


def test_a_dropout_of_a_few_points_is_flagged_however_heavy_the_noise() -> None:
    rng = np.random.default_rng(11)
    points = 6 * DAY
    values = 200.0 * (1 + 0.05 * _heavy_noise(rng, points)) * (0.85 + 0.3 * _rhythm(points))
    dropout = 5 * DAY + 40
    quiet, blip = values.copy(), values.copy()
    values[dropout : dropout + 4] = 0.0  # the sensor stops reporting for 20 minutes
    blip[dropout] = 0.0  # ...or for one point only
    scored, calm, once = score_series(
        [(_times(points), series) for series in (values, quiet, blip)], kind=Kind.VALUE
    )
    # One point at zero is a burst this noise makes now and then: scored, not flagged.
    assert 3.0 < once.scores[dropout] < 6.0
    assert not once.flags[DAY:].any()
    # The run is one event, far less likely than any of its points: flagged while it lasts.
    assert scored.scores[dropout + 3] > scored.scores[dropout]
    hits = np.flatnonzero(scored.flags[dropout : dropout + 4])
    assert hits.size
    assert hits[0] <= 2
    assert scored.reasons[dropout + int(hits[0])].startswith("value_low")
    assert not calm.flags[DAY:].any()  # the same noise without the dropout stays quiet


def test_a_persisting_shift_is_one_alert_until_it_is_taken_in() -> None:
    rng = np.random.default_rng(5)
    points = 4 * DAY
    values = 100.0 + 2.0 * _heavy_noise(rng, points)
    shift = 3 * DAY
    values[shift:] += 12.0  # about 6 spreads: its noise dips back into the band now and then
    (scored,) = score_series([(_times(points), values)], kind=Kind.VALUE, alerts=True)
    assert scored.alert_open is not None
    after = scored.flags[shift:]
    # The window holds still while the shift departs from it, so the shift does not creep
    # into the band bucket by bucket: flagged without a break until it is adopted.
    assert len(alarms(after)) == 1
    assert alarms(after, scored.alert_open[shift:]) == alarms(after)
    flagged = np.flatnonzero(after)
    # A metric of unknown law takes its first large deviations for possible bursts (its
    # burst rate is bounded by its history), so the shift is flagged once it has lasted.
    assert flagged[0] <= 12
    assert flagged.size == flagged[-1] - flagged[0] + 1
    assert flagged[-1] > DETECTOR_DEFAULTS.adopt_buckets
    assert not after[DAY // 2 :].any()  # then the new level is the normal
    opened = np.flatnonzero(np.diff(scored.alert_open[shift - 1 :].astype(np.int64)) == 1)
    assert opened.size == 1  # the product raises one alert for the whole shift
    assert score_series([(_times(points), values)], kind=Kind.VALUE)[0].alert_open is None


def test_a_quiet_services_counts_are_judged_at_their_poisson_noise_not_twice_it() -> None:
    rng = np.random.default_rng(3)
    points = 5 * DAY
    expected = 20.0 * (0.7 + 0.5 * _rhythm(points))  # twenty records a bucket, give or take
    outage = 4 * DAY + 10 * 12
    expected[outage : outage + 5] *= 0.1
    counts = rng.poisson(expected).astype(np.float64)
    (scored,) = score_series([(_times(points), counts)], kind=Kind.COUNT)
    hits = np.flatnonzero(scored.flags[outage : outage + 5])
    assert hits.size
    assert hits[0] <= 2
    assert scored.reasons[outage + int(hits[0])].startswith("traffic_drop")
    assert not scored.flags[DAY:outage].any()


def _opened(alert_open: np.ndarray) -> int:
    """How many times an alert opened (went from closed to open)."""
    return int((np.diff(np.r_[0, alert_open.astype(np.int64)]) == 1).sum())


def test_a_shift_whose_noise_dips_back_into_the_band_is_one_alert_then_quiet() -> None:
    # Eight spreads up: the window holds still while the shift departs from it, until the
    # shift has lasted long enough to be taken in; the product raises one alert for it, and
    # the new level is the normal afterwards - on every seed, not one.
    points, shift = 3000, 1000
    for seed in range(1, 7):
        values = 1000.0 + np.random.default_rng(seed).normal(0.0, 20.0, points)
        values[shift:] += 160.0
        (scored,) = score_series([(_times(points), values)], kind=Kind.VALUE, alerts=True)
        assert scored.alert_open is not None
        assert scored.flags[shift : shift + 6].any()
        assert _opened(scored.alert_open[shift - 6 :]) == 1
        assert not scored.flags[shift + DAY :].any()  # the new level is the normal now


def test_a_slow_drift_raises_at_most_one_alert() -> None:
    rng = np.random.default_rng(23)
    points = 6 * DAY
    values = 300.0 + 10.0 * _heavy_noise(rng, points)
    start, length = 3 * DAY, 120  # ten hours of drift, fifteen spreads in all
    values += 150.0 * np.clip((np.arange(points) - start) / length, 0.0, 1.0)
    (scored,) = score_series([(_times(points), values)], kind=Kind.VALUE, alerts=True)
    assert scored.alert_open is not None
    assert scored.flags[start : start + length + 12].any()
    assert _opened(scored.alert_open[start:]) <= 1


def test_a_metric_that_lives_below_zero_is_a_value_not_silence() -> None:
    rng = np.random.default_rng(25)
    points = 5 * DAY
    steady = -400.0 + rng.normal(0.0, 10.0, points)
    shifted = steady.copy()
    shift = 3 * DAY
    shifted[shift:] -= 150.0  # further below zero, for good
    calm, mirrored, moved = score_series(
        [(_times(points), series) for series in (steady, -steady, shifted)],
        kind=Kind.VALUE,
        alerts=True,
    )
    assert moved.alert_open is not None
    # Judged both ways, a value below zero is judged as its mirror image above zero.
    assert np.allclose(calm.scores, mirrored.scores)
    assert (calm.flags == mirrored.flags).all()
    assert moved.flags[shift : shift + 6].any()
    assert _opened(moved.alert_open[shift:]) == 1
    assert not moved.flags[4 * DAY :].any()  # learnt: a negative value is not "no data"


def test_a_short_error_incident_at_moderate_volume_is_not_diluted() -> None:
    # About 90 records a point, 2.4 % failing; then three points at 13 %. Over the long
    # span the incident is diluted by the calm points before it, and any one point is too
    # few records to tell; the short span sees it, its score paying for the scan.
    points, incident = 4 * DAY, 3 * DAY + 100
    for seed in range(1, 7):
        rng = np.random.default_rng(seed)
        volumes = rng.poisson(90.0, points).astype(np.float64)
        rate = np.full(points, 0.024)
        rate[incident : incident + 3] = 0.13
        errors = rng.binomial(volumes.astype(np.int64), rate).astype(np.float64)
        observed = errors / np.maximum(volumes, 1.0)
        (scored,) = score_series(
            [(_times(points), observed)], kind=Kind.ERROR_RATE, volumes=[volumes]
        )
        assert scored.flags[incident : incident + 3].any()
        assert scored.reasons[incident + int(np.argmax(scored.flags[incident:]))].startswith(
            "error_spike"
        )
