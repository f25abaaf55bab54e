"""`tracer eval`: the seeded corpus is reproducible and the scorer counts what it says."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from tracer.cli import app
from tracer.eval.corpus import LEARNING_POINTS, corpus
from tracer.eval.score import GRACE, score_one


def test_the_corpus_is_the_same_for_the_same_seed() -> None:
    first, again = corpus(3, 1, 3), corpus(3, 1, 3)
    assert [s.family for s in first] == [s.family for s in again]
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a.values, b.values)
        assert a.windows == b.windows
        assert np.isfinite(a.values).all()
        assert all(LEARNING_POINTS <= start < end <= a.values.size for start, end in a.windows)


def test_windows_detected_early_earn_more_and_false_alarms_cost() -> None:
    points = LEARNING_POINTS + 400
    window = (LEARNING_POINTS + 100, LEARNING_POINTS + 120)
    flags = np.zeros(points, np.int8)
    flags[window[0]] = 1
    early = score_one(flags, [window])
    late_flags = np.zeros(points, np.int8)
    late_flags[window[1] + GRACE - 1] = 1
    late = score_one(late_flags, [window])
    assert early.detected == late.detected == 1
    assert early.score > late.score > 0
    flags[LEARNING_POINTS + 300] = 1  # outside any window: a false alarm
    flags[10] = 1  # during the learning day: not counted
    noisy = score_one(flags, [window])
    assert noisy.false_alarms == 1
    assert noisy.precision == 0.5
    assert noisy.score < early.score


def test_the_command_prints_a_table_per_family() -> None:
    result = CliRunner().invoke(app, ["eval", "--per-family", "1", "--days", "3"])
    assert result.exit_code == 0, result.output
    assert "overall" in result.output
    assert "error rates" in result.output


def test_an_anomaly_while_the_products_alert_is_open_is_not_a_new_alarm() -> None:
    points = LEARNING_POINTS + 400
    window = (LEARNING_POINTS + 100, LEARNING_POINTS + 124)
    flags = np.zeros(points, np.int8)
    flags[window[0] : window[0] + 4] = 1
    late = window[1] + GRACE + 20  # the shift still crosses the band, well after the window
    flags[late : late + 3] = 1
    without = score_one(flags, [window])
    assert without.false_alarms == 1
    still_open = np.zeros(points, np.int8)
    still_open[window[0] + 1 : late + 10] = 1  # the lifecycle never resolved in between
    assert score_one(flags, [window], still_open).false_alarms == 0
    resolved = still_open.copy()
    resolved[late - 5 : late] = 0  # resolved before: a new alert, a false alarm
    assert score_one(flags, [window], resolved).false_alarms == 1
