"""Tail probabilities as scores: -log10 of how unlikely an observation is under a baseline.

One unit for every metric and service: a score of 6 means "one chance in a million under
this service's own baseline", whatever the metric, its volume or its noise, so one threshold
serves the whole fleet. Every function is vectorised, returns finite values in
[0, SCORE_CAP] whatever its input, and works in log space so tiny probabilities never
underflow to zero.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

SCORE_CAP = 50.0  # one chance in 1e50: beyond this, more digits say nothing
LN10 = float(np.log(10.0))
_HALF_LN_2PI = 0.5 * float(np.log(2.0 * np.pi))
# Börjesson & Sundberg's approximation of the normal tail, within 0.3 % for every z >= 0.
_A, _B = 0.339, 5.510


def _cap(score: FloatArray) -> FloatArray:
    if not bool(np.isfinite(score).all()):  # finite by construction; this is the safety net
        score = np.nan_to_num(score, nan=0.0, posinf=SCORE_CAP, neginf=0.0)
    return np.clip(score, 0.0, SCORE_CAP)


def log_normal_tails(z: FloatArray) -> tuple[FloatArray, FloatArray]:
    """ln P(Z >= z) and ln P(Z <= z) for a standard normal Z (any z; exact to 0.3 % in
    probability), from one evaluation: a metric is judged both ways."""
    z = np.clip(z, -1.0e6, 1.0e6)
    u = np.abs(z)
    far = -0.5 * u * u - _HALF_LN_2PI - np.log((1 - _A) * u + _A * np.sqrt(u * u + _B))
    # The near side is 1 - P(Z >= |z|), close to 1: log1p keeps it exact.
    near = np.log1p(-np.minimum(np.exp(far), 0.5))
    above = z >= 0
    return np.where(above, far, near), np.where(above, near, far)


def log_normal_tail(z: FloatArray) -> FloatArray:
    """ln P(Z >= z) for a standard normal Z."""
    return log_normal_tails(z)[0]


def normal_score(z: FloatArray) -> FloatArray:
    """Score of a z-statistic against the upper tail of a standard normal."""
    return _cap(-log_normal_tail(z) / LN10)


def normal_scores(z: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Scores of a z-statistic against the upper and the lower tail."""
    upper, lower = log_normal_tails(z)
    return _cap(-upper / LN10), _cap(-lower / LN10)


def burst_score(
    z: FloatArray,
    burst_rate: FloatArray,
    excess: FloatArray,
    excess_sq: FloatArray,
    clip: float,
    log_tail: FloatArray | None = None,
) -> FloatArray:
    """Score of an upper deviation under a normal core with occasional bursts.

    The baseline is a mixture: with probability `1 - burst_rate` a bucket is ordinary noise
    (standard normal in z), otherwise a burst beyond `clip` whose excess over it follows a
    generalised Pareto tail fitted by moments to the bursts seen (`excess`, `excess_sq`: mean
    and mean square of the excess) - nearly exponential for bursts that barely pass the clip,
    a power law for heavy-tailed ones. A calm service's first outlier scores high; a bursty
    one's bursts, even several times their usual size, score low. `log_tail`: ln P(Z >= z)
    when already known.
    """
    rate = np.clip(burst_rate, 1.0e-12, 0.5)
    core = np.log1p(-rate) + (log_normal_tail(z) if log_tail is None else log_tail)
    tail = np.log(rate) + log_excess_tail(z - clip, excess, excess_sq)
    tail = np.where(z >= clip, tail, np.log(rate))  # below the clip a burst is no evidence
    return _cap(-np.logaddexp(core, tail) / LN10)


def log_excess_tail(beyond: FloatArray, excess: FloatArray, excess_sq: FloatArray) -> FloatArray:
    """ln P(a burst goes at least `beyond` past the clip): the generalised Pareto tail of
    `burst_score`, fitted by moments (`excess`, `excess_sq`) to the bursts seen."""
    mean = np.maximum(excess, 0.5)
    ratio = np.maximum(excess_sq, 0.0) / (mean * mean)
    shape = np.where(ratio > 2.1, 2.0 * (ratio - 1.0) / np.maximum(ratio - 2.0, 1e-9), 30.0)
    shape = np.clip(shape, 2.2, 30.0)
    scale = mean * (shape - 1.0)
    return np.asarray(-shape * np.log1p(np.maximum(beyond, 0.0) / scale), np.float64)


def binomial_score(errors: FloatArray, records: FloatArray, rate: FloatArray) -> FloatArray:
    """Score of at least `errors` failures in `records` trials at a baseline `rate`.

    Large-deviation form of the binomial tail, records * KL(observed || baseline), less
    half the log of the spread (the Bahadur-Rao correction) so it is not over-confident at
    moderate counts. Zero when the observed rate is at or below the baseline.
    """
    n = np.maximum(records, 0.0)
    p = np.clip(rate, 1.0e-9, 1 - 1.0e-9)
    observed = np.clip(errors / np.maximum(n, 1.0), 0.0, 1.0)
    r = np.clip(observed, 1.0e-12, 1 - 1.0e-12)
    kl = r * np.log(r / p) + (1 - r) * np.log((1 - r) / (1 - p))
    kl = np.where(observed >= 1.0, -np.log(p), kl)
    correction = 0.5 * np.log(2 * np.pi * np.maximum(n * r * (1 - r), 1.0))
    nats = np.where((observed > p) & (n > 0), n * kl - correction, 0.0)
    return _cap(nats / LN10)
