"""How bursty each service's metric is, and whether it has shifted for a while.

Per service and metric, with O(1) work per bucket:

- the burst rate: how often a bucket lands more than `clip_z` deviations from the baseline
  (a frequency, never below a small prior), and
- the burst sizes: mean and mean square of how far those excursions go beyond the clip,

which together turn a deviation into a tail probability under a "normal core plus bursts"
model (`tails.burst_score`): a bursty service's ordinary bursts score low, a calm one's
first burst scores high. A generic value (`generic_values`) has no known noise law, only
its own history: having shown no burst in n buckets says its burst rate is below about
1/n, not that it is `burst_prior`, so its rate is taken as at least half a burst over the
buckets learnt from (at most the rate's memory, 1 / `burst_alpha` buckets). Its first
burst scores only as high as that history can tell - a heavy-tailed metric's first large
deviation after a quiet day is not yet an incident - and the bound falls as it grows.

A run of buckets beyond the clip is learnt only once it has ended, and only when it was
short (at most `burst_run_buckets`): until then it may be the start of a sustained change,
and learning its first buckets as a burst would let the incident's next buckets - or the
next incident like it - pass as ordinary.

- runs: a bucket beyond the clip right after one beyond it in the same direction is the
  burst going on, and how often a burst goes on is learnt (`continued` of `followed`
  buckets after a burst, with a prior of one in two, taken two standard errors up). A run
  is scored as one event: its first bucket's burst score, then per bucket the chance that
  a burst goes on and, as a burst keeps its size, only the part of its tail beyond the
  previous bucket's (-log10 of the run's joint probability). A dropout or an outage that
  any one of its buckets might pass for a burst is, over a few buckets, a run that the
  service's bursts do not make; a burst lasting a few buckets at its size stays a burst.
- the drift: an EWMA of the clipped deviations, i.e. a sustained moderate shift, scored
  against the normal tail of an EWMA of bounded noise - noise whose correlation from one
  bucket to the next is learnt too (`lag`, `energy`), since an EWMA of correlated noise
  wanders more.

Rates are plain averages over the first buckets and exponentially weighted after that.
Only buckets judged against a warm baseline are learnt from.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tracer_processor.buckets.registry import Rows, take
from tracer_processor.detection.columns import ServiceColumns
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.detection.tails import (
    LN10,
    SCORE_CAP,
    burst_score,
    log_excess_tail,
    log_normal_tails,
    normal_scores,
)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_NAMES = ("rate", "size", "size_sq", "drift", "seen", "previous", "lag", "energy", "run",
          "pending", "pending_sq", "carried", "last", "followed",
          "continued")  # fmt: skip


class BurstTracker(ServiceColumns):
    COLUMNS = _NAMES

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
        self.carried = np.zeros(0, np.float64)  # score of the current run so far
        self.last = np.zeros(0, np.float64)  # the previous bucket's |z|
        self.followed = np.zeros(0, np.float64)  # buckets that followed a burst (decayed)
        self.continued = np.zeros(0, np.float64)  # ...and were beyond the clip too

    def correlation(self, rows: Rows) -> FloatArray:
        """Learnt bucket-to-bucket correlation of the clipped deviations (0 to 0.9)."""
        energy = take(self.energy, rows)
        lag = take(self.lag, rows)
        return np.where(energy > 0, np.clip(lag / np.maximum(energy, 1e-9), 0.0, 0.9), 0.0)

    def _rate(self, rows: Rows) -> FloatArray:
        """The share of buckets that are bursts, as judged: at least `burst_prior` and, for
        a generic value, at least half a burst over the buckets it has been learnt from."""
        config = self.config
        rate: FloatArray = np.maximum(take(self.rate, rows), config.burst_prior)
        if not config.generic_values:
            return rate
        memory = np.minimum(take(self.seen, rows), 1.0 / config.burst_alpha)
        least: FloatArray = 0.5 / (memory + 1.0)
        return np.maximum(rate, least)

    def _runs(self, rows: Rows, z: FloatArray, observed: BoolArray) -> tuple[BoolArray, FloatArray]:
        """Which buckets go on a run beyond the clip (same direction as the bucket before),
        and the score of the run so far, this bucket included (0 off runs). Worked out for
        the buckets beyond the clip only: a few in a hundred."""
        config = self.config
        clip = config.clip_z
        beyond = observed & (np.abs(z) > clip)
        sign = np.sign(take(self.previous, rows))
        goes_on = beyond & (take(self.run, rows) > 0) & (np.sign(z) == sign)
        score = np.zeros(z.size)
        at = np.flatnonzero(beyond)
        if at.size == 0:
            return goes_on, score

        def pick(array: FloatArray) -> FloatArray:
            return take(array, rows)[at]

        rate = self._rate(rows)[at]
        size, size_sq = pick(self.size), pick(self.size_sq)
        magnitude = np.abs(z[at])
        first = burst_score(magnitude, rate, size, size_sq, clip)
        followed = pick(self.followed) + 2.0
        onward = (pick(self.continued) + 1.0) / followed
        # Few bursts say little about how often they go on: two standard errors up.
        onward += 2.0 * np.sqrt(onward * (1.0 - onward) / followed)
        onward = np.clip(onward, rate, 1.0 - 1.0e-9)
        grown = log_excess_tail(pick(self.last) - clip, size, size_sq)
        grown -= log_excess_tail(magnitude - clip, size, size_sq)
        step = (np.maximum(grown, 0.0) - np.log(onward)) / LN10
        score[at] = np.minimum(np.where(goes_on[at], pick(self.carried) + step, first), SCORE_CAP)
        return goes_on, score

    def judge(
        self, rows: Rows, z: FloatArray, observed: BoolArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Upward and downward scores of this bucket, the drift with it, and its z-score.

        The bucket score is its deviation under the burst model; the sustained score is the
        drift's. Each direction's score is the larger of the two.
        """
        config = self.config
        rate = self._rate(rows)
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
        goes_on, run = self._runs(rows, z, observed)
        up = np.where(goes_on & (z > 0), np.maximum(up, run), up)
        down = np.where(goes_on & (z < 0), np.maximum(down, run), down)
        return up, down, drift, drift_z

    def learn(self, rows: Rows, z: FloatArray, drift: FloatArray, observed: BoolArray) -> None:
        """Record this bucket. A run beyond `clip_z` is held back and learnt as bursts when
        it ends within `burst_run_buckets`; a longer run is forgotten, not learnt."""
        config = self.config
        _goes_on, carried = self._runs(rows, z, observed)
        self.carried[rows] = np.where(observed, carried, take(self.carried, rows))
        self.last[rows] = np.where(observed, np.minimum(np.abs(z), 1.0e3), take(self.last, rows))
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
        # Each burst of a short run was followed by one bucket; all but its last went on.
        keep = np.where(observed, 1.0 - config.burst_alpha, 1.0)
        self.followed[rows] = take(self.followed, rows) * keep + bursts
        self.continued[rows] = take(self.continued, rows) * keep + np.maximum(bursts - 1.0, 0.0)
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
