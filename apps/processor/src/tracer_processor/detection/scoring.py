"""The detector's arithmetic: signals and verdicts for every service at once (numpy).

Every bucket is scored *before* it enters the baseline, and every score is the same unit:
-log10 of the tail probability of the observation under the service's own baseline
(`tails`), so one threshold (`score_threshold`) decides for every metric and service.

- Errors: a binomial test of the failures against the service's rate over its window (with
  a prior, and widened by any extra-binomial spread the service shows). A quiet bucket is
  pooled with the buckets before it until it holds enough records, so a service of one log
  a second is judged over a few tens of seconds.
- Latency (log p95) and volume: a normal core with learnt bursts, plus a sustained-shift
  signal (`bursts`); volume is judged against the recent past and, once the seasonal
  profile knows the hour, against the same hour of day/week too - only a deviation from
  both counts.

Guards keep alerts to changes that matter (a minimum ratio or difference); all results are
finite by construction, and `finite` is the last safety net.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tracer_core.models import AlertType
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.detection.season import noise_floor
from tracer_processor.detection.tails import SCORE_CAP, binomial_score
from tracer_processor.detection.values import ValueView

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
Judged = tuple[FloatArray, FloatArray, FloatArray, FloatArray]  # up, down, drift, drift z
Judge = Callable[[FloatArray, BoolArray], Judged]  # a metric's `BurstTracker.judge`

LOW, MEDIUM, HIGH, CRITICAL = 0, 1, 2, 3
SHORT_SPAN = 3  # buckets: the error rate is tested over 1, this many and recent_buckets + 1
# Three span lengths are three tests of one bucket: each score pays for the scan
# (Bonferroni), so the least tail probability of the three is still a tail probability.
_SCAN_COST = float(np.log10(3.0))
MAX_SCORE = SCORE_CAP
# A level is taken in as normal only when it is this many standard errors short of a
# `never_normal_*` mark: a few noisy buckets of an incident must not let it in bit by bit.
SURE = 2.0


@dataclass(frozen=True, slots=True)
class Verdict:
    anomalous: BoolArray
    healthy: BoolArray
    severity: npt.NDArray[np.int8]


@dataclass(frozen=True, slots=True)
class MetricSignals:
    """One metric's numbers for the scored slots, in the metric's natural unit."""

    name: str
    observed: BoolArray  # enough data to judge the metric
    value: FloatArray
    mean: FloatArray
    std: FloatArray
    n: IntArray
    z: FloatArray
    ewma: FloatArray
    ewma_z: FloatArray  # the sustained-shift signal, in deviations
    ratio: FloatArray
    change: FloatArray
    previous: FloatArray
    warm: BoolArray
    outlier: BoolArray  # beyond the clipping band: the baseline learns a clipped value
    learnt: FloatArray  # what the baseline learns from this bucket
    # The level now (its EWMA, not one bucket's noise) could be the service's normal: a
    # departure at it that lasts `adopt_buckets` is taken in. Not so for a change users
    # feel this much (`never_normal_*`, with `SURE` standard errors to spare): that is an
    # incident for as long as it lasts.
    adoptable: BoolArray
    score: FloatArray  # -log10 tail probability, in [0, SCORE_CAP]
    verdicts: dict[AlertType, Verdict] = field(default_factory=dict)
    drift: FloatArray | None = None


def finite(values: FloatArray) -> FloatArray:
    if bool(np.isfinite(values).all()):  # the rule; the repair below is the safety net
        return values
    return np.nan_to_num(values, nan=0.0, posinf=1.0e15, neginf=-1.0e15)


def _rank(value: FloatArray, medium: float, high: float, critical: float) -> npt.NDArray[np.int8]:
    return ((value >= medium).astype(np.int8) + (value >= high) + (value >= critical)).astype(
        np.int8
    )


def _level(
    config: DetectorConfig, value: FloatArray, ewma: tuple[FloatArray, BoolArray]
) -> FloatArray:
    previous, ready = ewma
    alpha = config.ewma_alpha
    return np.where(ready, alpha * value + (1 - alpha) * previous, value)


def error_signals(
    config: DetectorConfig,
    counts: FloatArray,
    errors: FloatArray,
    pool: tuple[FloatArray, ...],
    history: tuple[FloatArray, FloatArray, IntArray],
    baseline: tuple[FloatArray, FloatArray, IntArray],
    recent: tuple[FloatArray, IntArray],
    ewma: tuple[FloatArray, BoolArray],
    typical_count: FloatArray,
) -> MetricSignals:
    """`pool`: records and errors of this bucket and, when it is quiet, the ones before it,
    then of the last `SHORT_SPAN` buckets and of the last `recent_buckets` + 1 together: a
    short incident at moderate volume shows over the short span, a moderate rise over the
    long one, and neither is diluted by the other;
    `history`: records, errors and buckets seen over the window (clipped as learnt)."""
    _mean, std, n = baseline
    records, failed, short_records, short_failed, span_records, span_failed = pool
    window_records, window_errors, seen = history
    previous = recent[0]
    rate = failed / np.maximum(records, 1.0)
    bucket_rate = errors / np.maximum(counts, 1.0)
    prior = config.prior_records
    base = (window_errors + config.prior_error_rate * prior) / (window_records + prior)
    # A service whose rate wanders more than binomial noise is tested against that spread.
    binomial_sd = np.sqrt(base * (1 - base) / np.maximum(typical_count, 1.0))
    excess = np.where(n >= 2, np.maximum(std - binomial_sd, 0.0), 0.0)
    # ...and against the rate's own uncertainty, two standard errors up.
    known = np.sqrt(base * (1 - base) / (window_records + prior))
    tested = np.minimum(base + excess + 2.0 * known, 0.99)
    score = np.maximum(binomial_score(failed, records, tested) - _SCAN_COST, 0.0)
    sd = np.sqrt(tested * (1 - tested) / np.maximum(records, 1.0))
    z = finite((rate - base) / sd)
    level = _level(config, rate, ewma)
    level_sd = np.sqrt(level * (1 - level) / np.maximum(records, 1.0)) * config.ewma_scale
    ewma_z = finite((level - base) / (sd * config.ewma_scale))
    floor = np.maximum(base, config.error_rate_floor)
    ratio = finite(rate / floor)
    change = finite((rate - previous) / np.maximum(previous, config.error_rate_floor))
    observed = records >= config.min_errors
    warm = seen >= config.warmup_buckets
    delta = rate - base
    threshold, exit_share = config.score_threshold, config.exit_fraction

    def matters(share: float, rise: FloatArray, level: FloatArray) -> BoolArray:
        big_enough = rise >= share * config.min_error_delta
        return big_enough & (level / floor >= 1 + share * (config.min_error_ratio - 1))

    static = (rate >= config.static_error_rate) & (failed >= config.min_errors)
    static &= score >= exit_share * threshold  # and clearly above this service's usual rate
    now = (score >= threshold) & matters(1.0, delta, rate) & (failed >= config.min_errors)
    elevated = (score >= exit_share * threshold) & matters(exit_share, delta, rate)
    spanned = np.zeros(rate.size, np.bool_)
    # A span alerts only while this bucket itself is still elevated, so it cannot outlast
    # the incident it has seen.
    still = matters(exit_share, delta, rate)
    for span_failed_now, span_records_now in (
        (short_failed, short_records),
        (span_failed, span_records),
    ):
        span_rate = span_failed_now / np.maximum(span_records_now, 1.0)
        span_score = binomial_score(span_failed_now, span_records_now, tested) - _SCAN_COST
        span_score = np.maximum(span_score, 0.0)
        span_delta = span_rate - base
        spanned |= (
            (span_score >= threshold)
            & matters(1.0, span_delta, span_rate)
            & still
            & (span_failed_now >= config.min_errors)
        )
        elevated |= (span_score >= exit_share * threshold) & matters(
            exit_share, span_delta, span_rate
        )
        score = np.maximum(score, span_score)
    anomalous = observed & ((warm & (now | spanned)) | static)
    healthy = observed & ~elevated & ~static
    # Severity by impact: the share failing (less one standard error when few records).
    impact = np.where(
        records >= 100, rate, rate - np.sqrt(rate * (1 - rate) / np.maximum(records, 1.0))
    )
    verdict = Verdict(anomalous, healthy, _rank(impact, 0.05, 0.2, 0.5))
    high = tested + config.clip_z * np.sqrt(tested * (1 - tested) / np.maximum(counts, 1.0))
    outlier = warm & (bucket_rate > high)
    return MetricSignals(
        name="error_rate",
        observed=observed,
        value=rate,
        mean=base,
        std=std,
        n=n,
        z=z,
        ewma=level,
        ewma_z=ewma_z,
        ratio=ratio,
        change=change,
        previous=previous,
        warm=warm,
        outlier=outlier,
        learnt=np.where(outlier, high, bucket_rate),
        adoptable=level + SURE * level_sd < config.never_normal_error_rate,
        score=score,
        verdicts={AlertType.ERROR_SPIKE: verdict},
    )


def latency_signals(
    config: DetectorConfig,
    p95_ms: FloatArray,
    samples: FloatArray,
    baseline: tuple[FloatArray, FloatArray, IntArray],
    recent: tuple[FloatArray, IntArray],
    ewma: tuple[FloatArray, BoolArray],
    judge: Judge,
) -> MetricSignals:
    """Latency is judged on log(p95): slowdowns are multiplicative."""
    mean_log, std_log, n = baseline
    observed = samples >= config.min_latency_samples
    value_log = np.log(np.maximum(p95_ms, 0.01))
    spread = np.sqrt(std_log * std_log + config.latency_log_std_floor**2)
    z = finite(np.where(n >= 2, (value_log - mean_log) / spread, 0.0))
    up, _down, drift, drift_z = judge(z, observed)
    typical = np.where(n > 0, np.exp(np.clip(mean_log, -10, 30)), 0.0)
    base = np.maximum(typical, config.latency_floor_ms)
    ratio = finite(p95_ms / base)
    level_log = _level(config, value_log, ewma)
    level = np.exp(np.clip(level_log, -10, 30))
    usual_enough = level_log + SURE * config.ewma_scale * spread
    prev_ms = np.where(recent[1] > 0, np.exp(np.clip(recent[0], -10, 30)), 0.0)
    change = finite((p95_ms - prev_ms) / np.maximum(prev_ms, config.latency_floor_ms))
    warm = n >= config.warmup_buckets
    threshold, exit_share = config.score_threshold, config.exit_fraction
    matters = (ratio >= config.latency_ratio) & (p95_ms - typical >= config.min_latency_delta_ms)
    anomalous = observed & warm & (up >= threshold) & matters
    exit_ratio = 1 + exit_share * (config.latency_ratio - 1)
    healthy = observed & ~((up >= exit_share * threshold) & (ratio >= exit_ratio))
    verdict = Verdict(anomalous, healthy, _rank(ratio, 2.0, 4.0, 10.0))
    outlier = warm & (np.abs(z) > config.clip_z)
    band = config.clip_z * spread
    return MetricSignals(
        name="latency_p95_ms",
        observed=observed,
        value=p95_ms,
        mean=typical,
        std=finite(typical * (np.exp(np.clip(std_log, 0, 30)) - 1.0)),
        n=n,
        z=z,
        ewma=finite(level),
        ewma_z=drift_z,
        ratio=ratio,
        change=change,
        previous=prev_ms,
        warm=warm,
        outlier=outlier,
        learnt=np.where(warm, np.clip(value_log, mean_log - band, mean_log + band), value_log),
        adoptable=usual_enough < np.log(config.never_normal_latency_ratio * base),
        score=np.where(n >= 2, up, 0.0),
        verdicts={AlertType.HIGH_LATENCY: verdict},
        drift=drift,
    )


def deviation(
    config: DetectorConfig, value: FloatArray, expected: FloatArray, spread: FloatArray
) -> FloatArray:
    """How far `value` lies from `expected`, in standard normal units.

    Any metric: (value - expected) / spread. A count: its deviance residual - the signed
    root of twice the Poisson log-likelihood ratio, whose normal tail follows the Poisson
    tail where the plain difference does not (a drop from 20 to 1 is about 1e-8 under
    Poisson, 1e-5 as a difference over sqrt(20)) - scaled by how much wider than Poisson
    noise the measured spread is."""
    if config.generic_values:
        return (value - expected) / spread
    mu = np.clip(expected, 1.0e-9, 1.0e15)
    x = np.clip(value, 0.0, 1.0e15)
    ratio = np.where(x > 0, x * np.log(np.maximum(x, 1.0e-300) / mu), 0.0)
    root = np.sqrt(np.maximum(2.0 * (ratio - (x - mu)), 0.0))
    return np.sign(x - mu) * root * np.sqrt(np.maximum(mu, 1.0)) / spread


def slot_spread(
    config: DetectorConfig,
    usual: FloatArray,
    variance: FloatArray,
    value_scale: ValueView | None,
) -> FloatArray:
    """The spread of the usual hour's slot (`variance`), at least the noise floor."""
    spread = np.maximum(np.sqrt(variance), noise_floor(config, usual))
    return spread if value_scale is None else np.maximum(spread, value_scale.floor)


def traffic_signals(
    config: DetectorConfig,
    counts: FloatArray,
    partial: BoolArray,
    silent_for: IntArray,
    baseline: tuple[FloatArray, FloatArray, IntArray],
    recent: tuple[FloatArray, IntArray],
    ewma: tuple[FloatArray, BoolArray],
    season: tuple[FloatArray, FloatArray, BoolArray],
    judge: Judge,
    value_scale: ValueView | None = None,
) -> MetricSignals:
    """Request volume (or, with `generic_values`, any metric): drops, spikes and silence.

    `silent_for` counts this bucket; `season` is the usual mean and variance at this hour
    and whether the profile knows it; `value_scale` (generic values): what the series' own
    history says of its scale and wander (`values.ValueScale`)."""
    mean, std, n = baseline
    previous = recent[0]
    observed = ~partial
    # The noise floor is a floor: a window's spread already holds the counting noise.
    floor = noise_floor(config, mean)
    spread = np.maximum(std, floor)
    reference = mean
    if value_scale is not None:
        floor = np.maximum(floor, value_scale.floor)
        spread = np.maximum(std, floor)
        # A wandering series is judged against where it just was, in units of its usual
        # step from there; its window's mean lags it by more than the noise, and so may the
        # usual hour (its level follows the series at the pace of adoption).
        wanders = value_scale.wanders
        reference = np.where(wanders, value_scale.local, mean)
        spread = np.where(wanders, np.maximum(value_scale.local_spread, floor), spread)
    z_recent = finite(np.where(n >= 2, deviation(config, counts, reference, spread), 0.0))
    usual, variance, known = season
    known = known & config.seasonal
    if value_scale is not None:
        known &= ~value_scale.wanders | value_scale.season_fits
    # In units of the tighter spread: the usual hour's when the recent window spans the day's
    # rhythm, the recent one when this hour's level merely varies from one day to the next.
    season_spread = slot_spread(config, usual, variance, value_scale)
    if value_scale is not None:
        # A slot's spread is learnt from a few visits of an hour, and the usual hour misses
        # a new day by more than that (its mean is uncertain, days differ): its deviations
        # are in units of how far it has actually missed, lest they be overstated.
        season_spread = season_spread * value_scale.season_widen
    z_season = finite(deviation(config, counts, usual, np.minimum(season_spread, spread)))
    # Once the profile knows this hour, the deviation is the one from the usual hour - and
    # only when the recent past agrees on its direction: a shift already learnt over the
    # last hours is not news, and neither is an evening's usual fall.
    agree = (np.sign(z_recent) == np.sign(z_season)) & (z_recent != 0)
    if value_scale is not None:
        # ...and for a generic value, only when the recent past sees a deviation at all: a
        # mostly-zero series sits a hair below its window's mean between its spikes, which is
        # no agreement that a quiet hour is unusually quiet.
        agree &= np.abs(z_recent) >= 1.0
    z = np.where(known, np.where(agree, z_season, 0.0), z_recent)
    up, down, drift, drift_z = judge(z, observed)
    # A drop is sized against the lower of the usual hour and the recent level. The recent
    # level is the window's mean or, when higher, the last few buckets': with wide buckets
    # the window spans the whole daily rhythm and its mean is far below a busy hour.
    recent_level = np.where(recent[1] > 0, np.maximum(mean, previous), mean)
    low_ref = np.where(known, np.minimum(recent_level, usual), mean)
    high_ref = np.where(known, np.maximum(mean, usual), mean)
    warm = n >= config.warmup_buckets
    threshold, exit_share = config.score_threshold, config.exit_fraction
    silent = (counts <= 0) & (not config.generic_values)  # a generic value is never silence
    if config.generic_values:
        expected = warm
        ratio = finite(np.where(z < 0, counts / np.maximum(np.abs(low_ref), 1e-9),
                                counts / np.maximum(np.abs(high_ref), 1e-9)))  # fmt: skip
        drop = warm & observed & (down >= threshold)
        spike = warm & observed & (up >= threshold)
        drop_healthy = ~(down >= exit_share * threshold)
        spike_healthy = ~(up >= exit_share * threshold)
        down_now = np.zeros(counts.size, np.bool_)
    else:
        expected = warm & (low_ref >= config.min_count)  # this service is normally busy
        low_ratio = finite(counts / np.maximum(low_ref, 1.0))
        high_ratio = finite(counts / np.maximum(high_ref, 1.0))
        ratio = np.where(z < 0, low_ratio, high_ratio)
        drop = expected & observed & ~silent & (down >= threshold)
        drop &= low_ratio <= config.drop_ratio + 0.1
        spike = expected & observed & (up >= threshold) & (high_ratio >= config.spike_ratio)
        exit_low = 1 - exit_share * 0.5
        drop_healthy = ~silent & ~((down >= exit_share * threshold) & (low_ratio <= exit_low))
        spike_healthy = observed & ~(
            (up >= exit_share * threshold) & (high_ratio >= 1 + exit_share)
        )
        down_now = expected & silent & (silent_for >= config.silence_buckets)
    change = finite((counts - previous) / np.maximum(np.abs(previous), 1.0))
    level = _level(config, counts, ewma)
    if config.generic_values:
        adoptable = np.ones(counts.size, np.bool_)
    else:
        # The level's noise: counting noise at the level, as much wider as the deviation's
        # spread is than counting noise at what it is judged against.
        judged_spread = np.where(known, np.minimum(season_spread, spread), spread)
        dispersion = judged_spread / noise_floor(config, np.where(known, usual, mean))
        level_sd = noise_floor(config, level) * np.maximum(dispersion, 1.0) * config.ewma_scale
        share = config.never_normal_traffic_share
        adoptable = ~expected | (level - SURE * level_sd > share * low_ref)
    down_severity = np.where(silent_for >= config.critical_silence_buckets, CRITICAL, HIGH)
    verdicts = {
        AlertType.TRAFFIC_DROP: Verdict(drop, drop_healthy, _rank(1.0 - ratio, 0.7, 0.9, 2.0)),
        AlertType.SERVICE_DOWN: Verdict(down_now, ~silent, down_severity.astype(np.int8)),
    }
    if config.traffic_spike or config.generic_values:
        spike_rank = (
            np.zeros(counts.size, np.int8)
            if config.generic_values
            else _rank(ratio, 10.0, 1.0e12, 1.0e12)
        )
        verdicts[AlertType.TRAFFIC_SPIKE] = Verdict(spike, spike_healthy, spike_rank)
    outlier = warm & (np.abs(counts - reference) > config.clip_z * spread)
    band = config.clip_z * spread
    learnt = np.where(warm, np.clip(counts, reference - band, reference + band), counts)
    return MetricSignals(
        name="count",
        observed=observed,
        value=counts,
        mean=reference,
        std=std if value_scale is None else spread,
        n=n,
        z=z,
        ewma=level,
        ewma_z=drift_z,
        ratio=ratio,
        change=change,
        previous=previous,
        warm=warm,
        outlier=outlier | (expected & silent),
        learnt=learnt,
        adoptable=adoptable,
        score=np.where(n >= 2, np.maximum(up, down), 0.0),
        verdicts=verdicts,
        drift=drift,
    )
