"""What a generic metric's own history says about its scale and how it moves.

A metric of any unit (`generic_values`: `tracer backtest --kind value`) has no natural noise
floor: a count's Poisson noise does not apply, and a floor that is a share of the level
blinds a series at 1e12 +- 1e9 while a fixed one blinds a series at 1e-9. Per series, with
O(1) work per bucket, this keeps:

- the least usual step: the mean and spread of the logs of the nonzero changes between
  two observations, exponentially weighted. Two spreads below the mean (about the least
  step in forty), or the smallest step seen when that is larger, is the smallest step the
  series usually makes, and half of it the least spread a deviation is judged against. A
  rounded CPU % of 20, 21, 20 steps by 1 or more and is no more precise than that; a
  series at zero between spikes has no spread of its own, so its departures set its unit
  - a low quantile of them, which settles, where the smallest one seen so far (the least
  of n draws, which shrinks with every spike) would let its deviations grow without end
  and teach the burst model an ever heavier tail. A continuous noisy series steps by less
  than its spread, which then rules. A series that has not changed yet takes the decimal
  resolution of its value (42.0 counts in units of 1), so the first small step of a
  constant series is a small deviation, not an infinite one.
- the local level: an EWMA (`ewma_alpha`) of the values, each clipped at `clip_z` of the
  local spread first, so a dropout or a jump moves it only so far per bucket: the first
  buckets of a change are judged against where the series was, and a change that persists
  is caught up with within a few buckets more.
- two prediction errors, as exponentially weighted mean squares: the value's distance
  from the window's mean (the level) and from the local level. A stationary series is
  predicted about as well by either; a random walk, a trend or a slow rhythm far better by
  the local level. When the level's error exceeds the local one `wander_ratio` times, the
  series wanders, and a value is judged against the local level - a jump far beyond the
  usual step is news, the walk itself is not. The usual hour (the seasonal profile) is
  trusted for a wandering series only while its own error - a third mean square, learnt
  where the profile knows the hour - stays within `wander_ratio` of the local one: a daily
  rhythm is predicted by its hour, a random walk's hour is only where it happened to be.

Each squared error is clipped at `sustained_clip` of its own spread (at least the least
spread) before it is learnt, so an incident widens either only slowly. A fourth mean
square calibrates the usual hour: its misses over its slot's spread, learnt from ordinary
buckets only. A slot learns its spread from a few visits of its hour, and a new day's value
misses the slot's mean by more than that (the mean is itself uncertain, and days differ),
so a deviation from the usual hour is in units of the slot's spread times the RMS of those
ratios (at least 1) - otherwise it is overstated, and the first honest deviation of a
heavy-tailed series looks like an incident.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tracer_processor.buckets.registry import Rows, take
from tracer_processor.detection.columns import ServiceColumns
from tracer_processor.detection.config import DetectorConfig

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_NAMES = (
    "step_log",
    "step_log_sq",
    "steps",
    "least_step",
    "last",
    "local",
    "level_sq",
    "local_sq",
    "season_sq",
    "season_z_sq",
    "season_seen",
    "seen",
)
_DECIMALS = 10.0 ** np.arange(15, -16, -1, dtype=np.float64)  # coarsest first
_TINY = 1.0e-290  # a spread is never zero (and a value over it stays finite)
_LOW_STEP = 2.0  # log spreads below the mean log step: about the least step in forty


def decimal_resolution(values: FloatArray) -> FloatArray:
    """The coarsest power of ten of which each value is a whole multiple (42.0: 1, 20.5:
    0.1, 3e-9: 1e-9); infinite for zero, which says nothing about its resolution."""
    values = np.asarray(values, np.float64)
    scaled = np.abs(values)[:, None] / _DECIMALS[None, :]
    whole = np.abs(scaled - np.round(scaled)) <= 1.0e-6 * np.maximum(scaled, 1.0)
    whole &= scaled >= 0.5  # the value itself must be at least one unit
    first = np.argmax(whole, axis=1)
    found = whole[np.arange(values.size), first] & (values != 0)
    return np.where(found, _DECIMALS[first], np.inf)


@dataclass(frozen=True, slots=True)
class ValueView:
    """A generic value's scale from its own history, per series, for one bucket."""

    floor: FloatArray  # least spread: half the least usual step, or a tiny share of the level
    local: FloatArray  # the local level (an EWMA of clipped values)
    local_spread: FloatArray  # its usual error as a prediction
    wanders: BoolArray  # judged against the local level rather than the window's mean
    season_fits: BoolArray  # the usual hour predicts it about as well as the local level
    season_widen: FloatArray  # the usual hour's misses over its slot's spread (RMS, >= 1)


class ValueScale(ServiceColumns):
    """Per series: the steps, last value, local level and learnt prediction errors."""

    COLUMNS = _NAMES

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.step_log = np.zeros(0, np.float64)  # mean log of the nonzero changes
        self.step_log_sq = np.zeros(0, np.float64)  # ...and its mean square
        self.steps = np.zeros(0, np.float64)  # nonzero changes seen
        self.least_step = np.zeros(0, np.float64)  # the smallest of them
        self.last = np.zeros(0, np.float64)
        self.local = np.zeros(0, np.float64)  # the local level: an EWMA of clipped values
        self.level_sq = np.zeros(0, np.float64)
        self.local_sq = np.zeros(0, np.float64)
        self.season_sq = np.zeros(0, np.float64)
        self.season_z_sq = np.zeros(0, np.float64)  # of the usual hour's deviations, in its units
        self.season_seen = np.zeros(0, np.float64)
        self.seen = np.zeros(0, np.float64)

    def view(self, rows: Rows, level: FloatArray, values: FloatArray) -> ValueView:
        """What the history of these series says about this bucket (`level`: the window's
        mean; `values`: this bucket's)."""
        ratio, warmup = self.config.wander_ratio, self.config.warmup_buckets
        level_error = np.sqrt(take(self.level_sq, rows))
        local_error = np.sqrt(take(self.local_sq, rows))
        season_error = np.sqrt(take(self.season_sq, rows))
        season_known = take(self.season_seen, rows) >= warmup
        return ValueView(
            floor=self._floor(rows, level, values),
            local=take(self.local, rows),
            local_spread=local_error,
            wanders=(take(self.seen, rows) >= warmup) & (level_error > ratio * local_error),
            season_fits=season_known & (season_error <= ratio * local_error),
            season_widen=np.sqrt(np.maximum(take(self.season_z_sq, rows), 1.0)),
        )

    def _floor(self, rows: Rows, level: FloatArray, values: FloatArray) -> FloatArray:
        """The least spread of a deviation: half the least usual step, and never below a
        tiny share of the level (float rounding). A series that has not changed yet counts in
        units of its value's decimal resolution; one that has only ever been zero has no
        scale yet: its first departure sets it (half of it), so the first spike of a
        mostly-zero series is not a deviation of 1e300 that the spikes after it are
        measured against."""
        mean_log = take(self.step_log, rows)
        spread_log = np.sqrt(np.maximum(take(self.step_log_sq, rows) - mean_log**2, 0.0))
        step = np.exp(np.clip(mean_log - _LOW_STEP * spread_log, -700.0, 700.0))
        step = np.maximum(step, take(self.least_step, rows))
        step = np.where(take(self.steps, rows) > 0, step, np.inf)
        unchanged = np.flatnonzero(np.isinf(step) & (take(self.seen, rows) > 0))
        if unchanged.size:  # only until the series first changes
            step[unchanged] = decimal_resolution(take(self.last, rows)[unchanged])
        step = np.where(np.isfinite(step), step, np.abs(values - level))
        relative = self.config.value_relative_floor * np.abs(level)
        return np.maximum(np.where(np.isfinite(step), 0.5 * step, 0.0), relative) + _TINY

    def learn(
        self,
        rows: Rows,
        values: FloatArray,
        level_error: FloatArray,
        season_error: tuple[FloatArray, FloatArray],
        floor: FloatArray,
        observed: BoolArray,
    ) -> None:
        """Fold this bucket in: the steps, the last value, the local level and the
        four prediction errors, each squared error at most `sustained_clip` squared times the
        mean square so far (`floor`: the least spread, as scored; `season_error`: the
        usual hour's miss and the same over its slot's spread; an error is NaN where it
        cannot be told: an empty window, an hour the profile does not know)."""
        config = self.config
        last, seen = take(self.last, rows), take(self.seen, rows)
        local = take(self.local, rows)
        local_error = np.where(seen > 0, values - local, np.nan)
        band = config.clip_z * np.maximum(np.sqrt(take(self.local_sq, rows)), floor)
        warm = seen >= config.warmup_buckets
        clipped = np.where(warm, np.clip(values, local - band, local + band), values)
        moved = np.where(seen > 0, local + config.ewma_alpha * (clipped - local), values)
        self.local[rows] = np.where(observed, moved, local)
        step = np.abs(values - last)
        changed = observed & (seen > 0) & (step > 0) & np.isfinite(step)
        steps, step_log = take(self.steps, rows), take(self.step_log, rows)
        pace = np.maximum(1.0 / (steps + 1.0), 1.0 / config.window_buckets)
        logged = np.log(np.where(changed, np.maximum(step, _TINY), 1.0))
        self.step_log[rows] = np.where(changed, step_log + pace * (logged - step_log), step_log)
        step_log_sq = take(self.step_log_sq, rows)
        self.step_log_sq[rows] = np.where(
            changed, step_log_sq + pace * (logged * logged - step_log_sq), step_log_sq
        )
        self.steps[rows] = np.where(changed, np.minimum(steps + 1.0, 1.0e9), steps)
        least = np.where(steps > 0, np.minimum(take(self.least_step, rows), step), step)
        self.least_step[rows] = np.where(changed, least, take(self.least_step, rows))
        self.last[rows] = np.where(observed, values, last)
        clip = config.sustained_clip
        season_seen = take(self.season_seen, rows)
        season_miss, season_z = season_error
        # An error in the metric's unit is bounded once its mean square is known, and at
        # least at the least spread (a series constant while it warmed up has a mean square
        # of zero, which would bound every later error at zero for good); one in units of a
        # spread from the start, as its mean square is 1 when the spread is right.
        unit_sq, ratio_sq = np.square(np.minimum(floor, 1.0e150)), np.ones_like(floor)
        errors = (("level_sq", level_error, seen, unit_sq, False),
                  ("local_sq", local_error, seen, unit_sq, False),
                  ("season_sq", season_miss, season_seen, unit_sq, False),
                  ("season_z_sq", season_z, season_seen, ratio_sq, True))  # fmt: skip
        for name, error, count, least_sq, at_once in errors:
            pace = np.maximum(1.0 / (count + 1.0), 1.0 / config.window_buckets)
            mean_sq = take(getattr(self, name), rows)
            learns = observed & np.isfinite(error)
            bounded = (count >= config.warmup_buckets) | at_once
            bound = np.where(bounded, clip * clip * np.maximum(mean_sq, least_sq), np.inf)
            squared = np.minimum(error * error, bound)
            learnt = np.minimum(mean_sq + pace * (squared - mean_sq), 1.0e300)
            getattr(self, name)[rows] = np.where(learns, learnt, mean_sq)
        counted = observed & np.isfinite(season_miss)
        self.season_seen[rows] = np.where(counted, np.minimum(season_seen + 1.0, 1.0e9),
                                          season_seen)  # fmt: skip
        self.seen[rows] = np.where(observed, np.minimum(seen + 1.0, 1.0e9), seen)
