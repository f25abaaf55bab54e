"""How bursty each service's metric is, and whether it has shifted for a while.

Per service and metric, with O(1) work per bucket:

- the burst rate: how often a bucket lands more than `clip_z` deviations from the baseline
  (a frequency, never below a small prior), and
- the burst sizes: mean and mean square of how far those excursions go beyond the clip,

which together turn a deviation into a tail probability under a "normal core plus bursts"
model (`tails.burst_score`): a bursty service's ordinary bursts score low, a calm one's
first burst scores high. A run of buckets beyond the clip is learnt only once it has ended,
and only when it was short (at most `burst_run_buckets`): until then it may be the start of
a sustained change, and learning its first buckets as a burst would let the incident's next
buckets - or the next incident like it - pass as ordinary.

- the drift: an EWMA of the clipped deviations, i.e. a sustained moderate shift, scored
  against the normal tail of an EWMA of bounded noise - noise whose correlation from one
  bucket to the next is learnt too (`lag`, `energy`), since an EWMA of correlated noise
  wanders more.

Rates are plain averages over the first buckets and exponentially weighted after that.
Only buckets judged against a warm baseline are learnt from.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from tracer_processor.buckets.registry import Rows, take
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.detection.tails import burst_score, log_normal_tails, normal_scores

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_NAMES = ("rate", "size", "size_sq", "drift", "seen", "previous", "lag", "energy", "run",
          "pending", "pending_sq")  # fmt: skip


class BurstTracker:
    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.rate = np.zeros(0, np.float64)
        self.size = np.zeros(0, np.float64)  # mean excess beyond the clip
        self.size_sq = np.zeros(0, np.float64)  # mean squared excess
        self.drift = np.zeros(0, np.float64)
        self.seen = np.zeros(0, np.float64)
        self.previous = np.zeros(0, np.float64)  # the last clipped deviation
        self.lag = np.zeros(0, np.float64)  # mean of clipped z(t) * z(t - 1)
        self.energy = np.zeros(0, np.float64)  # mean of clipped z(t) ** 2
        self.run = np.zeros(0, np.float64)  # buckets in a row beyond the clip, so far
        self.pending = np.zeros(0, np.float64)  # sum of the run's excesses, not yet learnt
        self.pending_sq = np.zeros(0, np.float64)  # sum of their squares

    def _state(self) -> dict[str, FloatArray]:
        return {name: getattr(self, name) for name in _NAMES}

    def ensure_capacity(self, capacity: int) -> None:
        grow = capacity - self.rate.size
        if grow > 0:
            for name, array in self._state().items():
                setattr(self, name, np.concatenate([array, np.zeros(grow)]))

    def reset(self, slots: npt.NDArray[np.intp]) -> None:
        for array in self._state().values():
            array[slots] = 0

    def export(self, slots: npt.NDArray[np.intp]) -> dict[str, npt.NDArray[Any]]:
        return {name: array[slots] for name, array in self._state().items()}

    def restore(self, slots: npt.NDArray[np.intp], state: dict[str, npt.NDArray[Any]]) -> None:
        for name, array in self._state().items():
            array[slots] = state[name]

    def correlation(self, rows: Rows) -> FloatArray:
        """Learnt bucket-to-bucket correlation of the clipped deviations (0 to 0.9)."""
        energy = take(self.energy, rows)
        lag = take(self.lag, rows)
        return np.where(energy > 0, np.clip(lag / np.maximum(energy, 1e-9), 0.0, 0.9), 0.0)

    def judge(
        self, rows: Rows, z: FloatArray, observed: BoolArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Upward and downward scores of this bucket, the drift with it, and its z-score.

        The bucket score is its deviation under the burst model; the sustained score is the
        drift's. Each direction's score is the larger of the two.
        """
        config = self.config
        rate = np.maximum(take(self.rate, rows), config.burst_prior)
        size, size_sq = take(self.size, rows), take(self.size_sq, rows)
        c, alpha = config.sustained_clip, config.sustained_alpha
        drift = take(self.drift, rows)
        drift = np.where(observed, (1 - alpha) * drift + alpha * np.clip(z, -c, c), drift)
        # Clipped noise has variance 1 between bursts and at most c^2 during them, and
        # bursts come in runs (up to `burst_run_buckets`), which the EWMA adds up; so does
        # correlation rho between buckets, by (1 + rho (1 - alpha)) / (1 - rho (1 - alpha)).
        runs = config.burst_run_buckets
        kept = self.correlation(rows) * (1 - alpha)
        noise = np.sqrt(
            alpha / (2 - alpha) * (1 + rate * (c * c - 1) * runs) * (1 + kept) / (1 - kept)
        )
        drift_z = drift / noise
        clip = config.clip_z
        above, below = log_normal_tails(z)  # ln P(Z >= z), ln P(Z >= -z)
        drift_up, drift_down = normal_scores(drift_z)
        up = np.maximum(burst_score(z, rate, size, size_sq, clip, above), drift_up)
        down = np.maximum(burst_score(-z, rate, size, size_sq, clip, below), drift_down)
        return up, down, drift, drift_z

    def learn(self, rows: Rows, z: FloatArray, drift: FloatArray, observed: BoolArray) -> None:
        """Record this bucket. A run beyond `clip_z` is held back and learnt as bursts when
        it ends within `burst_run_buckets`; a longer run is forgotten, not learnt."""
        config = self.config
        magnitude = np.minimum(np.abs(z), 1.0e3)
        beyond = observed & (magnitude > config.clip_z)
        calm = observed & ~beyond
        excess = np.where(beyond, magnitude - config.clip_z, 0.0)
        run = take(self.run, rows)
        pending, pending_sq = take(self.pending, rows), take(self.pending_sq, rows)
        # A calm bucket ends the run before it: a short one is committed as bursts now.
        ended = calm & (run > 0) & (run <= config.burst_run_buckets)
        bursts = np.where(ended, run, 0.0)
        run = np.where(beyond, run + 1.0, np.where(observed, 0.0, run))
        long_run = run > config.burst_run_buckets
        self.run[rows] = np.minimum(run, 1.0e9)
        self.pending[rows] = np.where(beyond & ~long_run, pending + excess, 0.0)
        self.pending_sq[rows] = np.where(beyond & ~long_run, pending_sq + excess * excess, 0.0)
        seen = take(self.seen, rows)
        pace = np.maximum(1.0 / (seen + 1.0), config.burst_alpha)
        rate = take(self.rate, rows)
        # The calm bucket counts as one ordinary bucket; each burst of the run as one burst.
        rate = np.where(calm, rate + pace * (0.0 - rate), rate)
        rate = 1.0 - (1.0 - rate) * (1.0 - np.minimum(pace, 1.0)) ** bursts
        self.rate[rows] = rate
        size, size_sq = take(self.size, rows), take(self.size_sq, rows)
        mean_excess = pending / np.maximum(bursts, 1.0)
        mean_excess_sq = pending_sq / np.maximum(bursts, 1.0)
        step = np.where(size <= 0, 1.0, 1.0 - 0.9**bursts)  # the first burst sets the sizes
        self.size[rows] = np.where(ended, size + step * (mean_excess - size), size)
        self.size_sq[rows] = np.where(ended, size_sq + step * (mean_excess_sq - size_sq), size_sq)
        c = config.sustained_clip
        clipped = np.clip(z, -c, c)
        previous, lag = take(self.previous, rows), take(self.lag, rows)
        energy = take(self.energy, rows)
        quick = np.maximum(1.0 / (seen + 1.0), 5 * config.burst_alpha)
        # An incident's own persistence is not the noise's.
        self.lag[rows] = np.where(calm, lag + quick * (clipped * previous - lag), lag)
        self.energy[rows] = np.where(calm, energy + quick * (clipped * clipped - energy), energy)
        self.previous[rows] = np.where(observed, clipped, previous)
        self.seen[rows] = np.where(observed, np.minimum(seen + 1.0, 1.0e9), seen)
        self.drift[rows] = drift
