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
- two prediction errors, as exponentially weighted mean squares over ordinary buckets:
  the value's distance from the window's mean (the level) and from the mean of the last
  `recent_buckets` observations (the local level). A stationary series is predicted as
  well by its level as by its last few values; a random walk, a trend or a slow rhythm is
  predicted far better by the last few values. When the level's error exceeds the local
  one `wander_ratio` times, the series wanders, and a value is judged against where the
  series just was - a jump far beyond the usual step is news, the walk itself is not.

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
_NAMES = ("quantum", "last", "level_sq", "local_sq", "seen")
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
        self.level_sq = np.zeros(0, np.float64)
        self.local_sq = np.zeros(0, np.float64)
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

    def floor(self, rows: Rows, level: FloatArray) -> FloatArray:
        """The least spread of a deviation: half the quantum, and never below a tiny share
        of the level (float rounding)."""
        seen = take(self.seen, rows) > 0
        quantum = take(self.quantum, rows)
        unchanged = np.where(seen, decimal_resolution(take(self.last, rows)), np.inf)
        quantum = np.minimum(quantum, unchanged)
        relative = self.config.value_relative_floor * np.abs(level)
        return np.maximum(np.where(np.isfinite(quantum), 0.5 * quantum, 0.0), relative) + _TINY

    def spreads(self, rows: Rows) -> tuple[FloatArray, FloatArray, BoolArray]:
        """Learnt RMS error of the level and of the local level, and whether the series
        wanders (the level predicts `wander_ratio` times worse than the local level)."""
        level = np.sqrt(take(self.level_sq, rows))
        local = np.sqrt(take(self.local_sq, rows))
        ready = take(self.seen, rows) >= self.config.warmup_buckets
        wanders = ready & (level > self.config.wander_ratio * local)
        return level, local, wanders

    def learn(
        self,
        rows: Rows,
        values: FloatArray,
        level_error: FloatArray,
        local_error: FloatArray,
        observed: BoolArray,
    ) -> None:
        """Fold this bucket in: the quantum, the last value and both prediction errors, each
        squared error at most `sustained_clip` squared times the mean square so far."""
        last, seen = take(self.last, rows), take(self.seen, rows)
        step = np.abs(values - last)
        changed = observed & (seen > 0) & (step > 0)
        quantum = take(self.quantum, rows)
        self.quantum[rows] = np.where(changed, np.minimum(quantum, step), quantum)
        self.last[rows] = np.where(observed, values, last)
        clip = self.config.sustained_clip
        pace = np.maximum(1.0 / (seen + 1.0), 1.0 / self.config.window_buckets)
        warm = seen >= self.config.warmup_buckets
        for name, error in (("level_sq", level_error), ("local_sq", local_error)):
            mean_sq = take(getattr(self, name), rows)
            learns = observed & np.isfinite(error)
            squared = np.where(warm, np.minimum(error * error, clip * clip * mean_sq),
                               error * error)  # fmt: skip
            learnt = np.minimum(mean_sq + pace * (squared - mean_sq), 1.0e300)
            getattr(self, name)[rows] = np.where(learns, learnt, mean_sq)
        self.seen[rows] = np.where(observed, np.minimum(seen + 1.0, 1.0e9), seen)
