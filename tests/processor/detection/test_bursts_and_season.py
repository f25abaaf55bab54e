"""What the burst model and the seasonal profile learn from, bucket by bucket."""

from __future__ import annotations

import numpy as np

from tracer_processor.detection.bursts import BurstTracker
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.detection.season import SeasonalProfile

ONE = np.arange(1, dtype=np.intp)
SEEN = np.ones(1, np.bool_)


def _feed(tracker: BurstTracker, values: list[float]) -> list[float]:
    """Judge then learn each z in turn; the downward scores."""
    downs = []
    for z in values:
        zs = np.array([z])
        _up, down, drift, _drift_z = tracker.judge(ONE, zs, SEEN)
        tracker.learn(ONE, zs, drift, SEEN)
        downs.append(float(down[0]))
    return downs


def test_a_sustained_run_is_not_learnt_as_bursts_and_an_isolated_burst_is() -> None:
    config = DetectorConfig()
    tracker = BurstTracker(config)
    tracker.ensure_capacity(1)
    calm = np.random.default_rng(15).normal(0.0, 1.0, 400).clip(-3, 3).tolist()
    _feed(tracker, calm)
    first = _feed(tracker, [-40.0] * 10)  # an outage: ten buckets far below
    _feed(tracker, calm[:50])
    assert tracker.size[0] == 0.0  # never learnt as a burst
    assert tracker.rate[0] < 0.01
    second = _feed(tracker, [-40.0] * 10)
    assert first[0] >= config.score_threshold
    assert second[0] >= config.score_threshold  # the next outage alerts as the first did
    assert second[1] >= config.score_threshold  # ...and so does its second bucket

    _feed(tracker, calm[:50])
    _feed(tracker, [-12.0, 0.0])  # one bucket out, then back: a burst
    assert tracker.size[0] > 0.0
    assert tracker.rate[0] > 0.0


def test_the_seasonal_level_follows_a_shift_the_recent_baseline_took_in() -> None:
    config = DetectorConfig(bucket_seconds=300)
    hours = np.array([10], np.int64)  # one hour of the day, visited 12 buckets a day

    def profile() -> SeasonalProfile:
        made = SeasonalProfile(config)
        made.ensure_capacity(1)
        for _ in range(24):  # two days of this hour at 100
            made.learn(ONE, hours, np.array([100.0]), SEEN, SEEN)
        return made

    taken_in, clipped = profile(), profile()
    for _ in range(3 * config.adopt_buckets):
        taken_in.learn(ONE, hours, np.array([200.0]), SEEN, SEEN)
        clipped.learn(ONE, hours, np.array([200.0]), SEEN, ~SEEN)  # an incident
    usual_now = float(taken_in.expect(ONE, hours)[0][0])
    assert 185.0 < usual_now < 215.0
    assert taken_in.offset[0] > 10.0  # ahead of what the slot itself has learnt
    # An incident moves neither the level nor a slot that knows its hour.
    assert clipped.offset[0] == 0.0
    assert float(clipped.expect(ONE, hours)[0][0]) == 100.0
    assert all(np.isfinite(a).all() for a in (taken_in.offset, taken_in.mean, taken_in.var))


def test_a_slot_that_has_seen_its_hour_once_is_judged_wider_than_it_measured() -> None:
    """A dozen buckets of one day's hour measure its spread roughly: the profile offers it
    one standard error wider, by a margin that shrinks as the slot sees more days."""
    config = DetectorConfig(bucket_seconds=300)
    hours = np.array([10], np.int64)
    profile = SeasonalProfile(config)
    profile.ensure_capacity(1)
    values = np.random.default_rng(8).normal(100.0, 5.0, 12 * 30)

    def offered_over_measured() -> float:
        measured = float(profile.var[10, 0])  # the daily slot of this hour
        return float(profile.expect(ONE, hours)[1][0]) / measured

    for value in values[:12]:
        profile.learn(ONE, hours, np.array([value]), SEEN, SEEN)
    once = offered_over_measured()
    for value in values[12:]:
        profile.learn(ONE, hours, np.array([value]), SEEN, SEEN)
    often = offered_over_measured()
    assert once > 1.5  # a spread from 12 buckets: about a fifth uncertain
    assert 1.0 < often < 1.25  # ...from the slot's whole memory: a few per cent
