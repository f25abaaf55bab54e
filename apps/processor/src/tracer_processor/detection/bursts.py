"""How bursty each service's metric is, and whether it has shifted for a while.

Per service and metric, three numbers with O(1) work per bucket:

- the burst rate: how often a bucket lands more than `clip_z` deviations from the baseline
  (an exponentially weighted frequency, never below a small prior), and
- the burst size: the mean size of those excursions, in deviations,

which together turn a deviation into a tail probability under a "normal core plus bursts"
model (`tails.burst_score`): a bursty service's ordinary bursts score low, a calm one's
first burst scores high. Only the first buckets of a run count as bursts, so a long
incident does not teach the service that incidents are ordinary.

- the drift: an EWMA of the clipped deviations, i.e. a sustained moderate shift, scored
  against the normal tail of an EWMA of bounded noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from tracer_processor.buckets.registry import Rows, take
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.detection.tails import burst_score, normal_score

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


class BurstTracker:
    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.rate = np.zeros(0, np.float64)
        self.size = np.zeros(0, np.float64)
        self.drift = np.zeros(0, np.float64)

    def ensure_capacity(self, capacity: int) -> None:
        grow = capacity - self.rate.size
        if grow > 0:
            self.rate = np.concatenate([self.rate, np.zeros(grow)])
            self.size = np.concatenate([self.size, np.zeros(grow)])
            self.drift = np.concatenate([self.drift, np.zeros(grow)])

    def _state(self) -> dict[str, npt.NDArray[Any]]:
        return {"rate": self.rate, "size": self.size, "drift": self.drift}

    def reset(self, slots: npt.NDArray[np.intp]) -> None:
        for array in self._state().values():
            array[slots] = 0

    def export(self, slots: npt.NDArray[np.intp]) -> dict[str, npt.NDArray[Any]]:
        return {name: array[slots] for name, array in self._state().items()}

    def restore(self, slots: npt.NDArray[np.intp], state: dict[str, npt.NDArray[Any]]) -> None:
        for name, array in self._state().items():
            array[slots] = state[name]

    def judge(
        self, rows: Rows, z: FloatArray, observed: BoolArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Upward and downward scores of this bucket, the drift with it, and its z-score.

        The bucket score is its deviation under the burst model; the sustained score is the
        drift's. Each direction's score is the larger of the two.
        """
        config = self.config
        rate = np.maximum(take(self.rate, rows), config.burst_prior)
        size = np.maximum(take(self.size, rows), config.clip_z)
        c, alpha = config.sustained_clip, config.sustained_alpha
        drift = take(self.drift, rows)
        drift = np.where(observed, (1 - alpha) * drift + alpha * np.clip(z, -c, c), drift)
        # Clipped noise has variance 1 between bursts and at most c^2 during them, and
        # bursts come in runs (up to `burst_run_buckets`), which the EWMA adds up.
        runs = config.burst_run_buckets
        noise = np.sqrt(alpha / (2 - alpha) * (1 + rate * (c * c - 1) * runs))
        drift_z = drift / noise
        up = np.maximum(burst_score(z, rate, size), normal_score(drift_z))
        down = np.maximum(burst_score(-z, rate, size), normal_score(-drift_z))
        return up, down, drift, drift_z

    def learn(
        self, rows: Rows, z: FloatArray, drift: FloatArray, observed: BoolArray, run: IntArray
    ) -> None:
        """Record this bucket; `run` counts the buckets in a row beyond `clip_z`, this one
        included (bursts are the first `burst_run_buckets` of a run)."""
        config = self.config
        size_now = np.minimum(np.abs(z), 1.0e3)
        beyond = observed & (size_now > config.clip_z)
        burst = beyond & (run <= config.burst_run_buckets)
        counted = observed & ((run <= config.burst_run_buckets) | ~beyond)
        rate = take(self.rate, rows)
        size = take(self.size, rows)
        a = config.burst_alpha
        self.rate[rows] = np.where(counted, rate + a * (burst - rate), rate)
        first = burst & (size <= 0)
        self.size[rows] = np.where(
            first, size_now, np.where(burst, size + 0.1 * (size_now - size), size)
        )
        self.drift[rows] = drift
