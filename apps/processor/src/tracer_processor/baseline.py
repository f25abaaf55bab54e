"""Rolling baselines for every service at once, with O(1) work per bucket.

Each slot owns a ring of the last `window` buckets. A bucket's entry is either a value the
baseline accepted or a hole (a clearly anomalous bucket, or one with too little traffic to
judge), and running sums over the valid entries give mean and standard deviation. Writing a
new entry first subtracts the one it overwrites, so the baseline *forgets*: after a regime
change it holds only the new regime once a window has passed. Sums are recomputed from the
ring once per lap, so float rounding cannot drift.

A second, short ring of raw observations (anomalous ones included) gives the mean of the
previous few buckets for the rate-of-change signal, and an EWMA tracks the current level.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
SlotArray = npt.NDArray[np.intp]
MAX_VALUE = 1.0e15


class RollingBaseline:
    def __init__(self, *, window: int, recent: int, ewma_alpha: float) -> None:
        if window < 2 or recent < 1:
            raise ValueError("window must be >= 2 and recent >= 1")
        self.window = window
        self.recent = recent
        self.alpha = ewma_alpha
        self._capacity = 0
        self._values = np.zeros((0, window), np.float32)
        self._valid = np.zeros((0, window), np.bool_)
        self._total = np.zeros(0, np.float64)
        self._total_sq = np.zeros(0, np.float64)
        self._n = np.zeros(0, np.int64)
        self._recent = np.zeros((0, recent), np.float32)
        self._recent_valid = np.zeros((0, recent), np.bool_)
        self.ewma = np.zeros(0, np.float64)
        self.ewma_ready = np.zeros(0, np.bool_)

    def ensure_capacity(self, capacity: int) -> None:
        if capacity <= self._capacity:
            return
        grow = capacity - self._capacity
        self._values = np.concatenate([self._values, np.zeros((grow, self.window), np.float32)])
        self._valid = np.concatenate([self._valid, np.zeros((grow, self.window), np.bool_)])
        self._total = np.concatenate([self._total, np.zeros(grow)])
        self._total_sq = np.concatenate([self._total_sq, np.zeros(grow)])
        self._n = np.concatenate([self._n, np.zeros(grow, np.int64)])
        self._recent = np.concatenate([self._recent, np.zeros((grow, self.recent), np.float32)])
        self._recent_valid = np.concatenate(
            [self._recent_valid, np.zeros((grow, self.recent), np.bool_)]
        )
        self.ewma = np.concatenate([self.ewma, np.zeros(grow)])
        self.ewma_ready = np.concatenate([self.ewma_ready, np.zeros(grow, np.bool_)])
        self._capacity = capacity

    def reset(self, slots: SlotArray) -> None:
        self._values[slots] = 0
        self._valid[slots] = False
        self._total[slots] = 0
        self._total_sq[slots] = 0
        self._n[slots] = 0
        self._recent[slots] = 0
        self._recent_valid[slots] = False
        self.ewma[slots] = 0
        self.ewma_ready[slots] = False

    def bytes_per_service(self) -> int:
        return int(self.window * 5 + self.recent * 5 + 8 * 4 + 1)

    # -- reading ----------------------------------------------------------------------------

    def stats(self, slots: SlotArray) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
        """Mean, standard deviation and number of valid entries (0, 0, 0 when empty)."""
        n = self._n[slots]
        safe = np.maximum(n, 1)
        mean = self._total[slots] / safe
        variance = np.maximum(self._total_sq[slots] / safe - mean * mean, 0.0)
        return np.where(n > 0, mean, 0.0), np.where(n > 1, np.sqrt(variance), 0.0), n

    def previous_mean(self, slots: SlotArray) -> tuple[FloatArray, npt.NDArray[np.int64]]:
        """Mean of the last `recent` observations (before the current one) and their count."""
        valid = self._recent_valid[slots]
        n = valid.sum(axis=1)
        total = np.where(valid, self._recent[slots], 0.0).sum(axis=1, dtype=np.float64)
        return np.where(n > 0, total / np.maximum(n, 1), 0.0), n

    # -- writing ----------------------------------------------------------------------------

    def push(
        self,
        slots: SlotArray,
        steps: npt.NDArray[np.int64],
        values: FloatArray,
        observed: BoolArray,
        accept: BoolArray,
    ) -> None:
        """Record this bucket: `accept` enters the baseline, `observed` the recent ring/EWMA.

        `steps` is each slot's bucket counter; every bucket writes its ring entry (a hole when
        not accepted), which is what makes old data fall out of the window.
        """
        values = np.clip(values, -MAX_VALUE, MAX_VALUE)  # float32 storage, squares in float64
        position = steps % self.window
        old_valid = self._valid[slots, position]
        old = self._values[slots, position].astype(np.float64)
        stored = np.where(accept, values, 0.0).astype(np.float32)
        new = stored.astype(np.float64)  # add exactly what will later be subtracted
        self._total[slots] += np.where(accept, new, 0.0) - np.where(old_valid, old, 0.0)
        self._total_sq[slots] += np.where(accept, new * new, 0.0) - np.where(
            old_valid, old * old, 0.0
        )
        self._n[slots] += accept.astype(np.int64) - old_valid.astype(np.int64)
        self._values[slots, position] = stored
        self._valid[slots, position] = accept

        lap_done = position == self.window - 1
        if lap_done.any():
            self._recompute(slots[lap_done])

        recent_position = steps % self.recent
        self._recent[slots, recent_position] = np.where(observed, values, 0.0)
        self._recent_valid[slots, recent_position] = observed

        ready = self.ewma_ready[slots]
        current = self.ewma[slots]
        blended = np.where(ready, self.alpha * values + (1 - self.alpha) * current, values)
        self.ewma[slots] = np.where(observed, blended, current)
        self.ewma_ready[slots] = ready | observed

    def _recompute(self, slots: SlotArray) -> None:
        values = np.where(self._valid[slots], self._values[slots], 0.0).astype(np.float64)
        self._total[slots] = values.sum(axis=1)
        self._total_sq[slots] = (values * values).sum(axis=1)
        self._n[slots] = self._valid[slots].sum(axis=1)
