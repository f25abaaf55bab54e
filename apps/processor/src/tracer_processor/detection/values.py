"""What a generic metric's own history says about its scale and how it moves.

A metric of any unit (`generic_values`: `tracer backtest --kind value`) has no natural noise
floor: a count's Poisson noise does not apply, and a floor that is a share of the level
blinds a series at 1e12 +- 1e9 while a fixed one blinds a series at 1e-9. Per series, with
O(1) work per bucket, this keeps:

- the quantum: the smallest change between two observations seen so far. No change smaller
  than it was ever measured, so half of it is the least spread a deviation is judged
  against (a rounded CPU % of 20, 21, 20 is not infinitely precise). A series that has not
  changed yet takes the decimal resolution of its value (42.0 counts in units of 1), so
  the first small step of a constant series is a small deviation, not an infinite one.
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

Each squared error is clipped at `sustained_clip` of its own spread before it is learnt, so
an incident widens either only slowly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from tracer_processor.buckets.registry import Rows, take
from tracer_processor.detection.config import DetectorConfig

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_NAMES = ("quantum", "last", "local", "level_sq", "local_sq", "season_sq", "season_seen", "seen")
_DECIMALS = 10.0 ** np.arange(15, -16, -1, dtype=np.float64)  # coarsest first
_TINY = 1.0e-290  # a spread is never zero (and a value over it stays finite)


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


class ValueScale:
    """Per series: quantum, last value and the two learnt prediction errors."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.quantum = np.zeros(0, np.float64)  # inf until the series changes
        self.last = np.zeros(0, np.float64)
        self.local = np.zeros(0, np.float64)  # the local level: an EWMA of clipped values
        self.level_sq = np.zeros(0, np.float64)
        self.local_sq = np.zeros(0, np.float64)
        self.season_sq = np.zeros(0, np.float64)
        self.season_seen = np.zeros(0, np.float64)
        self.seen = np.zeros(0, np.float64)

    def _state(self) -> dict[str, FloatArray]:
        return {name: getattr(self, name) for name in _NAMES}

    def ensure_capacity(self, capacity: int) -> None:
        grow = capacity - self.seen.size
        if grow > 0:
            for name, array in self._state().items():
                fill = np.full(grow, np.inf) if name == "quantum" else np.zeros(grow)
                setattr(self, name, np.concatenate([array, fill]))

    def reset(self, slots: npt.NDArray[np.intp]) -> None:
        for name, array in self._state().items():
            array[slots] = np.inf if name == "quantum" else 0.0

    def export(self, slots: npt.NDArray[np.intp]) -> dict[str, npt.NDArray[Any]]:
        return {name: array[slots] for name, array in self._state().items()}

    def restore(self, slots: npt.NDArray[np.intp], state: dict[str, npt.NDArray[Any]]) -> None:
        for name, array in self._state().items():
            array[slots] = state[name]

    def floor(self, rows: Rows, level: FloatArray, values: FloatArray) -> FloatArray:
        """The least spread of a deviation: half the quantum, and never below a tiny share
        of the level (float rounding). A series that has only ever been zero has no scale
        yet: its first departure sets it (half of it), so the first spike of a mostly-zero
        series is not a deviation of 1e300 that the spikes after it are measured against."""
        seen = take(self.seen, rows) > 0
        quantum = take(self.quantum, rows)
        unchanged = np.where(seen, decimal_resolution(take(self.last, rows)), np.inf)
        quantum = np.minimum(quantum, unchanged)
        quantum = np.where(np.isfinite(quantum), quantum, np.abs(values - level))
        relative = self.config.value_relative_floor * np.abs(level)
        return np.maximum(np.where(np.isfinite(quantum), 0.5 * quantum, 0.0), relative) + _TINY

    def spreads(self, rows: Rows) -> tuple[FloatArray, FloatArray, BoolArray, BoolArray]:
        """The local level, its learnt RMS error, whether the series wanders (its level
        predicts `wander_ratio` times worse) and whether its usual hour predicts it within
        `wander_ratio` of the local level."""
        ratio, warmup = self.config.wander_ratio, self.config.warmup_buckets
        level = np.sqrt(take(self.level_sq, rows))
        local = np.sqrt(take(self.local_sq, rows))
        season = np.sqrt(take(self.season_sq, rows))
        wanders = (take(self.seen, rows) >= warmup) & (level > ratio * local)
        season_fits = (take(self.season_seen, rows) >= warmup) & (season <= ratio * local)
        return take(self.local, rows), local, wanders, season_fits

    def learn(
        self,
        rows: Rows,
        values: FloatArray,
        level_error: FloatArray,
        season_error: FloatArray,
        floor: FloatArray,
        observed: BoolArray,
    ) -> None:
        """Fold this bucket in: the quantum, the last value, the local level and the three
        prediction errors, each squared error at most `sustained_clip` squared times the
        mean square so far (`floor`: the least spread, as scored; an error is NaN where it
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
        changed = observed & (seen > 0) & (step > 0)
        quantum = take(self.quantum, rows)
        self.quantum[rows] = np.where(changed, np.minimum(quantum, step), quantum)
        self.last[rows] = np.where(observed, values, last)
        clip = config.sustained_clip
        season_seen = take(self.season_seen, rows)
        errors = (("level_sq", level_error, seen), ("local_sq", local_error, seen),
                  ("season_sq", season_error, season_seen))  # fmt: skip
        for name, error, count in errors:
            pace = np.maximum(1.0 / (count + 1.0), 1.0 / config.window_buckets)
            mean_sq = take(getattr(self, name), rows)
            learns = observed & np.isfinite(error)
            bound = np.where(count >= config.warmup_buckets, clip * clip * mean_sq, np.inf)
            squared = np.minimum(error * error, bound)
            learnt = np.minimum(mean_sq + pace * (squared - mean_sq), 1.0e300)
            getattr(self, name)[rows] = np.where(learns, learnt, mean_sq)
        counted = observed & np.isfinite(season_error)
        self.season_seen[rows] = np.where(counted, np.minimum(season_seen + 1.0, 1.0e9),
                                          season_seen)  # fmt: skip
        self.seen[rows] = np.where(observed, np.minimum(seen + 1.0, 1.0e9), seen)
