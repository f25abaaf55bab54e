"""The detector's arithmetic: signals and verdicts for every service at once (numpy).

Every bucket is scored *before* it enters the baseline. For each metric the signals are the
z-score against the rolling baseline (with a floor on the deviation: a flat baseline never
divides by zero), the z-score of the EWMA (a sustained moderate shift), the ratio to the
baseline mean and the rate of change against the previous few buckets (both against a
floored base). Guards keep quiet what cannot be judged: too little volume, or a baseline
still warming up. All results are finite by construction; `finite` is the last safety net.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tracer_core.models import AlertType
from tracer_processor.detection.config import DetectorConfig

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

LOW, MEDIUM, HIGH, CRITICAL = 0, 1, 2, 3
MAX_SCORE = 1.0e6


@dataclass(frozen=True, slots=True)
class Verdict:
    anomalous: BoolArray
    healthy: BoolArray
    severity: npt.NDArray[np.int8]


@dataclass(frozen=True, slots=True)
class MetricSignals:
    """One metric's numbers for the scored slots, in the metric's natural unit."""

    name: str
    observed: BoolArray  # enough data in this bucket to judge the metric
    value: FloatArray
    mean: FloatArray
    std: FloatArray
    n: IntArray
    z: FloatArray
    ewma: FloatArray
    ewma_z: FloatArray
    ratio: FloatArray
    change: FloatArray
    previous: FloatArray
    warm: BoolArray
    exclude: BoolArray  # clearly anomalous: keep out of the baseline
    score: FloatArray  # >= 0, higher is more anomalous
    verdicts: dict[AlertType, Verdict] = field(default_factory=dict)


def finite(values: FloatArray) -> FloatArray:
    if bool(np.isfinite(values).all()):  # the rule; the repair below is the safety net
        return values
    return np.nan_to_num(values, nan=0.0, posinf=MAX_SCORE, neginf=-MAX_SCORE)


def _deviations(
    config: DetectorConfig,
    value: FloatArray,
    mean: FloatArray,
    spread: FloatArray,
    ewma: tuple[FloatArray, BoolArray],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The bucket's z-score, the EWMA with this bucket in it, and the EWMA's z-score."""
    previous, ready = ewma
    alpha = config.ewma_alpha
    z = finite((value - mean) / spread)
    level = np.where(ready, alpha * value + (1 - alpha) * previous, value)
    ewma_z = finite((level - mean) / (spread * config.ewma_scale))
    return z, level, ewma_z


def _rank(value: FloatArray, medium: float, high: float, critical: float) -> npt.NDArray[np.int8]:
    return ((value >= medium).astype(np.int8) + (value >= high) + (value >= critical)).astype(
        np.int8
    )


def _score(z: FloatArray, ewma_z: FloatArray, n: IntArray) -> FloatArray:
    return np.where(n >= 2, np.clip(np.maximum(z, ewma_z), 0.0, MAX_SCORE), 0.0)


def error_signals(
    config: DetectorConfig,
    counts: FloatArray,
    errors: FloatArray,
    baseline: tuple[FloatArray, FloatArray, IntArray],
    recent: tuple[FloatArray, IntArray],
    ewma: tuple[FloatArray, BoolArray],
) -> MetricSignals:
    mean, std, n = baseline
    previous = recent[0]
    volume = counts >= config.min_count
    rate = errors / np.maximum(counts, 1.0)
    # Binomial noise of a rate measured over `counts` requests, so quiet buckets are not
    # judged against the tighter spread of busy ones.
    p = np.clip(mean, 0.001, 0.5)
    noise = np.maximum(np.sqrt(p * (1 - p) / np.maximum(counts, 1.0)), config.error_std_floor)
    spread = np.sqrt(std * std + noise * noise)
    z, level, ewma_z = _deviations(config, rate, mean, spread, ewma)
    base = np.maximum(mean, config.error_rate_floor)
    ratio = finite(rate / base)
    change = finite((rate - previous) / np.maximum(previous, config.error_rate_floor))
    warm = n >= config.warmup_buckets
    delta = rate - mean
    sudden = (z >= config.z_threshold) & (ratio >= config.min_error_ratio)
    sudden &= delta >= config.min_error_delta
    exit_z = config.exit_fraction * config.z_threshold
    exit_delta = config.exit_fraction * config.min_error_delta
    elevated = (z >= exit_z) & (delta >= exit_delta)  # this bucket itself is off
    sustained = (ewma_z >= config.z_threshold) & (level / base >= 0.75 * config.min_error_ratio)
    sustained &= (level - mean >= config.min_error_delta) & elevated
    static = rate >= config.static_error_rate
    enough = volume & (errors >= config.min_errors)
    anomalous = enough & ((warm & (sudden | sustained)) | static)
    still_high = elevated | ((ewma_z >= exit_z) & (level - mean >= exit_delta))
    healthy = volume & ~still_high & ~static
    # Severity from the rate less one standard error, so noise does not flap it up and down.
    assured = rate - np.sqrt(rate * (1 - rate) / np.maximum(counts, 1.0))
    verdict = Verdict(anomalous, healthy, _rank(assured, 0.05, 0.2, 0.5))
    return MetricSignals(
        name="error_rate",
        observed=volume,
        value=rate,
        mean=mean,
        std=std,
        n=n,
        z=z,
        ewma=level,
        ewma_z=ewma_z,
        ratio=ratio,
        change=change,
        previous=previous,
        warm=warm,
        exclude=volume & ((sudden & warm) | static),
        score=_score(z, ewma_z, n),
        verdicts={AlertType.ERROR_SPIKE: verdict},
    )


def latency_signals(
    config: DetectorConfig,
    p95_ms: FloatArray,
    samples: FloatArray,
    baseline: tuple[FloatArray, FloatArray, IntArray],
    recent: tuple[FloatArray, IntArray],
    ewma: tuple[FloatArray, BoolArray],
) -> MetricSignals:
    """Latency is judged on log(p95): slowdowns are multiplicative."""
    mean_log, std_log, n = baseline
    observed = samples >= config.min_latency_samples
    value_log = np.log(np.maximum(p95_ms, 0.01))
    spread = np.sqrt(std_log * std_log + config.latency_log_std_floor**2)
    z, level_log, ewma_z = _deviations(config, value_log, mean_log, spread, ewma)
    typical = np.where(n > 0, np.exp(np.clip(mean_log, -10, 30)), 0.0)
    base = np.maximum(typical, config.latency_floor_ms)
    ratio = finite(p95_ms / base)
    level = np.exp(np.clip(level_log, -10, 30))
    prev_ms = np.where(recent[1] > 0, np.exp(np.clip(recent[0], -10, 30)), 0.0)
    change = finite((p95_ms - prev_ms) / np.maximum(prev_ms, config.latency_floor_ms))
    warm = n >= config.warmup_buckets
    delta = p95_ms - typical
    sudden = (z >= config.z_threshold) & (ratio >= config.latency_ratio)
    sudden &= delta >= config.min_latency_delta_ms
    exit_z = config.exit_fraction * config.z_threshold
    exit_ratio = 1 + config.exit_fraction * (config.latency_ratio - 1)
    elevated = (z >= exit_z) & (ratio >= exit_ratio)
    sustained = (ewma_z >= config.z_threshold) & (level / base >= 0.8 * config.latency_ratio)
    sustained &= (level - typical >= config.min_latency_delta_ms) & elevated
    anomalous = observed & warm & (sudden | sustained)
    still_high = elevated | ((ewma_z >= exit_z) & (level / base >= exit_ratio))
    healthy = observed & ~still_high
    verdict = Verdict(anomalous, healthy, _rank(ratio, 2.0, 4.0, 10.0))
    return MetricSignals(
        name="latency_p95_ms",
        observed=observed,
        value=p95_ms,
        mean=typical,
        std=finite(typical * (np.exp(np.clip(std_log, 0, 30)) - 1.0)),
        n=n,
        z=z,
        ewma=finite(level),
        ewma_z=ewma_z,
        ratio=ratio,
        change=change,
        previous=prev_ms,
        warm=warm,
        exclude=observed & warm & sudden,
        score=_score(z, ewma_z, n),
        verdicts={AlertType.HIGH_LATENCY: verdict},
    )


def traffic_signals(
    config: DetectorConfig,
    counts: FloatArray,
    partial: BoolArray,
    silent_for: IntArray,
    baseline: tuple[FloatArray, FloatArray, IntArray],
    recent: tuple[FloatArray, IntArray],
    ewma: tuple[FloatArray, BoolArray],
) -> MetricSignals:
    """Request volume: drops, spikes, and silence (`silent_for` counts this bucket)."""
    mean, std, n = baseline
    previous = recent[0]
    observed = ~partial
    # Poisson noise: a count's variance is at least its mean.
    spread = np.sqrt(std * std + np.maximum(mean, 1.0))
    z, level, ewma_z = _deviations(config, counts, mean, spread, ewma)
    base = np.maximum(mean, 1.0)
    ratio = finite(counts / base)
    change = finite((counts - previous) / np.maximum(previous, 1.0))
    warm = n >= config.warmup_buckets
    expected = warm & (mean >= config.min_count)  # this service is normally busy
    silent = counts <= 0
    threshold = config.z_threshold
    exit_z = config.exit_fraction * threshold
    exit_ratio = 1 - config.exit_fraction * 0.5
    low = (z <= -exit_z) & (ratio <= exit_ratio)  # this bucket itself is down
    drop = (z <= -threshold) & (ratio <= config.drop_ratio)
    drop |= (ewma_z <= -threshold) & (level / base <= config.drop_ratio + 0.1) & low
    drop &= expected & observed & ~silent
    spike = expected & observed & (z >= threshold + 2) & (ratio >= config.spike_ratio)
    still_low = low | ((ewma_z <= -exit_z) & (level / base <= exit_ratio))
    drop_healthy = ~silent & ~still_low
    spike_healthy = observed & ~((z >= exit_z) & (ratio >= 1 + config.exit_fraction))
    down = expected & silent & (silent_for >= config.silence_buckets)
    down_severity = np.where(silent_for >= config.critical_silence_buckets, CRITICAL, HIGH)
    verdicts = {
        AlertType.TRAFFIC_DROP: Verdict(drop, drop_healthy, _rank(1.0 - ratio, 0.7, 0.9, 2.0)),
        AlertType.SERVICE_DOWN: Verdict(down, ~silent, down_severity.astype(np.int8)),
    }
    if config.traffic_spike:
        verdicts[AlertType.TRAFFIC_SPIKE] = Verdict(
            spike, spike_healthy, _rank(ratio, 10.0, 1.0e12, 1.0e12)
        )
    two_sided = np.maximum(np.abs(z), np.abs(ewma_z))
    return MetricSignals(
        name="count",
        observed=observed,
        value=counts,
        mean=mean,
        std=std,
        n=n,
        z=z,
        ewma=level,
        ewma_z=ewma_z,
        ratio=ratio,
        change=change,
        previous=previous,
        warm=warm,
        exclude=observed & (drop | spike | (expected & silent) | (z <= -threshold)),
        score=np.where(n >= 2, np.clip(two_sided, 0.0, MAX_SCORE), 0.0),
        verdicts=verdicts,
    )
