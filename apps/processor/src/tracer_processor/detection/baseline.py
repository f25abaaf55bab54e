"""Rolling baselines for every service at once, with O(1) work per bucket.

Each slot owns a ring of the last `window` buckets. A bucket's entry is either a value the
baseline accepted or a hole (NaN: a clearly anomalous bucket, or one with too little traffic
to judge; one array instead of values plus flags halves the scattered reads and writes of
each bucket), and running sums over the valid entries give mean and standard deviation. Writing a
new entry first subtracts the one it overwrites, so the baseline *forgets*: after a regime
change it holds only the new regime once a window has passed. Sums are recomputed from the
ring once per lap, so float rounding cannot drift.

A second, short ring of raw observations (anomalous ones included) gives the mean of the
previous few buckets for the rate-of-change signal, and an EWMA tracks the current level.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from tracer_processor.buckets.registry import Rows, take

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
SlotArray = npt.NDArray[np.intp]
MAX_VALUE = 1.0e15
# The exported state's fields, in the order checkpoints lay them out.
_LAYOUT = ("values", "valid", "total", "total_sq", "n", "recent", "recent_valid",
           "recent_total", "recent_n", "ewma", "ewma_ready")  # fmt: skip


class RollingBaseline:
    def __init__(self, *, window: int, recent: int, ewma_alpha: float) -> None:
        if window < 2 or recent < 1:
            raise ValueError("window must be >= 2 and recent >= 1")
        self.window = window
        self.recent = recent
        self.alpha = ewma_alpha
        self._capacity = 0
        # Rings are position-major: services that started together write one contiguous run.
        self._values = np.zeros((window, 0), np.float32)  # NaN: a hole
        self._total = np.zeros(0, np.float64)
        self._total_sq = np.zeros(0, np.float64)
        self._n = np.zeros(0, np.int64)
        self._recent = np.zeros((recent, 0), np.float32)  # NaN: not observed
        self._recent_total = np.zeros(0, np.float64)
        self._recent_n = np.zeros(0, np.int64)
        self.ewma = np.zeros(0, np.float64)
        self.ewma_ready = np.zeros(0, np.bool_)

    def ensure_capacity(self, capacity: int) -> None:
        grow = capacity - self._capacity
        if grow <= 0:
            return

        def pad(array: npt.NDArray[Any], fill: float = 0) -> npt.NDArray[Any]:
            shape = (*array.shape[:-1], grow)  # services are the last axis
            return np.concatenate([array, np.full(shape, fill, array.dtype)], axis=-1)

        self._values, self._recent = pad(self._values, np.nan), pad(self._recent, np.nan)
        self._total, self._total_sq, self._n = pad(self._total), pad(self._total_sq), pad(self._n)
        self._recent_total, self._recent_n = pad(self._recent_total), pad(self._recent_n)
        self.ewma, self.ewma_ready = pad(self.ewma), pad(self.ewma_ready)
        self._capacity = capacity

    def reset(self, slots: SlotArray) -> None:
        for array in self._sums().values():
            array[slots] = 0
        self._values[:, slots] = np.nan
        self._recent[:, slots] = np.nan

    def _sums(self) -> dict[str, npt.NDArray[Any]]:
        """Every per-service array but the rings, by name."""
        return {
            "total": self._total, "total_sq": self._total_sq, "n": self._n,
            "recent_total": self._recent_total, "recent_n": self._recent_n, "ewma": self.ewma,
            "ewma_ready": self.ewma_ready,
        }  # fmt: skip

    def export(self, slots: SlotArray) -> dict[str, npt.NDArray[Any]]:
        """Copies of the whole state of `slots`, services first (for checkpoints). Rings are
        written as values (0 in holes) and validity flags, the checkpoint layout."""
        rings = {}
        for name, ring in (("values", self._values), ("recent", self._recent)):
            entries = np.moveaxis(ring[:, slots], -1, 0)
            hole = np.isnan(entries)
            rings[name] = np.where(hole, np.float32(0), entries)
            rings["valid" if name == "values" else "recent_valid"] = ~hole
        sums = {name: array[slots] for name, array in self._sums().items()}
        return {name: rings[name] if name in rings else sums[name] for name in _LAYOUT}

    def restore(self, slots: SlotArray, state: dict[str, npt.NDArray[Any]]) -> None:
        """Put back what `export` gave (sums included, so scores continue bit for bit)."""
        for name, array in self._sums().items():
            array[slots] = state[name]
        for name, valid, ring in (
            ("values", "valid", self._values),
            ("recent", "recent_valid", self._recent),
        ):
            entries = np.where(state[valid], state[name], np.float32(np.nan))
            ring[:, slots] = np.moveaxis(entries, 0, -1)

    # -- reading ----------------------------------------------------------------------------

    def stats(self, rows: Rows) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
        """Mean, standard deviation and number of valid entries (0, 0, 0 when empty)."""
        n = take(self._n, rows)
        safe = np.maximum(n, 1)
        mean = self._total[rows] / safe
        variance = np.maximum(self._total_sq[rows] / safe - mean * mean, 0.0)
        return np.where(n > 0, mean, 0.0), np.where(n > 1, np.sqrt(variance), 0.0), n

    def sums(self, rows: Rows) -> tuple[FloatArray, npt.NDArray[np.int64]]:
        """Sum and number of the valid entries of the window."""
        return take(self._total, rows), take(self._n, rows)

    def previous_mean(self, rows: Rows) -> tuple[FloatArray, npt.NDArray[np.int64]]:
        """Mean of the last `recent` observations (before the current one) and their count."""
        n = take(self._recent_n, rows)
        return np.where(n > 0, self._recent_total[rows] / np.maximum(n, 1), 0.0), n

    def newest_first(
        self, slots: SlotArray, steps: npt.NDArray[np.int64], ages: int
    ) -> tuple[npt.NDArray[np.int64], BoolArray]:
        """Flat ring indices of the last `ages` entries of `slots` as (slot, age), the
        previous bucket first, and which of them were written (for `window_at`)."""
        back = np.arange(1, min(ages, self.window) + 1)
        positions = (steps[:, None] - back[None, :]) % self.window
        written = back[None, :] <= steps[:, None]
        return positions * self._capacity + slots[:, None], written

    def window_at(self, flat: npt.NDArray[np.int64], written: BoolArray) -> FloatArray:
        """The window's entries at `newest_first`'s indices (holes and unwritten are 0);
        baselines of the same window and capacity share the indices."""
        values = self._values.reshape(-1)[flat].astype(np.float64)
        return np.where(written, np.nan_to_num(values, nan=0.0), 0.0)

    def recent_positions(
        self, slots: SlotArray, steps: npt.NDArray[np.int64], ages: int
    ) -> tuple[npt.NDArray[np.int64], BoolArray]:
        """Flat indices into the recent ring of the last `ages` observations (at most
        `recent`) before the current one, and which were written (for `recent_at`)."""
        back = np.arange(1, min(ages, self.recent) + 1)[:, None]
        flat = (steps[None, :] - back) % self.recent * self._capacity + slots[None, :]
        return flat, back <= steps[None, :]

    def recent_at(self, flat: npt.NDArray[np.int64], written: BoolArray) -> FloatArray:
        """Sum of the recent ring's observations at `recent_positions`' indices; baselines
        of the same `recent` and capacity share the indices."""
        values = self._recent.reshape(-1)[flat].astype(np.float64)
        return np.asarray(np.where(written, np.nan_to_num(values, nan=0.0), 0.0).sum(axis=0))

    def recent_sum(self, rows: Rows) -> FloatArray:
        """Sum of the recent ring (the previous `recent` observations)."""
        return take(self._recent_total, rows)

    def level(self, rows: Rows) -> tuple[FloatArray, BoolArray]:
        """The EWMA before this bucket, and whether it has seen a value yet."""
        return take(self.ewma, rows), take(self.ewma_ready, rows)

    # -- writing ----------------------------------------------------------------------------

    def push(
        self,
        rows: Rows,
        slots: SlotArray,
        steps: npt.NDArray[np.int64],
        values: FloatArray,
        observed: BoolArray,
        accept: BoolArray,
        learnt: FloatArray | None = None,
        hold: BoolArray | None = None,
    ) -> None:
        """Record this bucket: `accept` enters the baseline, `observed` the recent ring/EWMA.

        `steps` is each slot's bucket counter; every bucket writes its ring entry (a hole when
        not accepted), which is what makes old data fall out of the window. `learnt` is what
        the window keeps when it differs from the observation (a clipped outlier). `hold`:
        the window stands still - the entry due to be overwritten stays, so the window keeps
        what it held (neither learning the bucket nor emptying while it lasts).
        """
        values = np.clip(values, -MAX_VALUE, MAX_VALUE)  # float32 storage, squares in float64
        kept = values if learnt is None else np.clip(learnt, -MAX_VALUE, MAX_VALUE)
        flat = steps % self.window * self._capacity + slots
        if hold is not None and hold.any():
            held = self._values.reshape(-1)[flat].astype(np.float64)  # NaN where a hole
            kept = np.where(hold, held, kept)
            accept = np.where(hold, ~np.isnan(held), accept)
        _replace(
            self._values, self._total, self._n, rows, flat, kept, accept, squares=self._total_sq,
        )  # fmt: skip
        # Re-add the window from scratch now and then (each slot once per lap, staggered so
        # services that started together do not all pay at the same bucket): no float drift.
        due = (steps + slots) % self.window == 0
        if due.any():
            self._recompute(slots[due])
        _replace(
            self._recent, self._recent_total, self._recent_n, rows,
            steps % self.recent * self._capacity + slots, values, observed,
        )  # fmt: skip

        ready = take(self.ewma_ready, rows)
        current = take(self.ewma, rows)
        blended = np.where(ready, self.alpha * values + (1 - self.alpha) * current, values)
        self.ewma[rows] = np.where(observed, blended, current)
        self.ewma_ready[rows] = ready | observed

    def _recompute(self, slots: SlotArray) -> None:
        entries = self._values[:, slots].astype(np.float64)
        valid = ~np.isnan(entries)
        values = np.where(valid, entries, 0.0)
        self._total[slots] = values.sum(axis=0)
        self._total_sq[slots] = (values * values).sum(axis=0)
        self._n[slots] = valid.sum(axis=0)


def _replace(
    ring: npt.NDArray[np.float32],
    total: FloatArray,
    count: npt.NDArray[np.int64],
    rows: Rows,
    flat: npt.NDArray[np.int64],
    new: FloatArray,
    keep: BoolArray,
    *,
    squares: FloatArray | None = None,
) -> None:
    """Overwrite one ring entry per slot (flat indices; a hole where not `keep`), keeping
    the running sums exact."""
    keep = keep & ~np.isnan(new)  # NaN is never a value: it would read as a hole
    entries = ring.reshape(-1)
    old = entries[flat].astype(np.float64)
    old_valid = ~np.isnan(old)
    old = np.where(old_valid, old, 0.0)
    stored = np.where(keep, new, np.nan).astype(np.float32)
    added = np.where(keep, stored, np.float32(0)).astype(np.float64)  # what is later subtracted
    total[rows] += added - old
    if squares is not None:
        squares[rows] += added * added - old * old
    count[rows] += keep.astype(np.int64) - old_valid
    entries[flat] = stored
