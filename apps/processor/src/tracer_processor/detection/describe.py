"""What an alert says: its title, its numbers (all finite) and its reasons in words.

Built only for the services that alert in a bucket, from small slices of the detector's
arrays converted to Python floats in one go, so even a mass incident (a hundred services
alerting in the same bucket) stays within the detection latency budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from tracer_core.models import AlertType
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.detection.scoring import MetricSignals

_FIELDS = ("value", "mean", "std", "n", "z", "ewma", "ewma_z", "ratio", "change", "previous",
           "score")  # fmt: skip


def number(value: float) -> float:
    """A JSON-safe number: finite, rounded to six decimals."""
    return round(value, 6) if math.isfinite(value) else 0.0


def numbers(metric: MetricSignals, positions: npt.NDArray[np.intp]) -> list[tuple[float, ...]]:
    """The metric's signals at `positions`, one tuple of floats (in `_FIELDS` order) each."""
    columns = [getattr(metric, name)[positions].astype(np.float64).tolist() for name in _FIELDS]
    return list(zip(*columns, strict=True))


def describe(
    metric: MetricSignals, position: int, alert_type: AlertType, config: DetectorConfig
) -> dict[str, Any]:
    """The numbers behind one detection and the reasons in words."""
    row = numbers(metric, np.array([position], np.intp))[0]
    return details(metric.name, row, alert_type, config)


def details(
    name: str, row: tuple[float, ...], alert_type: AlertType, config: DetectorConfig
) -> dict[str, Any]:
    value, mean, std, n, z, ewma, ewma_z, ratio, change, previous, score = row
    unit = _formatter(name)
    reasons: list[str] = []
    if score >= config.score_threshold:
        reasons.append(
            f"{name} {unit(value)} against a usual {unit(mean)}: about 1 chance in "
            f"10^{score:.1f} under this service's own baseline"
        )
    if abs(z) >= config.z_threshold:
        side = "above" if z > 0 else "below"
        reasons.append(
            f"{name} {unit(value)} is {abs(z):.1f} standard deviations {side} its "
            f"baseline {unit(mean)}"
        )
    if abs(ewma_z) >= config.z_threshold:
        reasons.append(f"sustained: the moving average {unit(ewma)} moved {abs(ewma_z):.1f} "
                       "deviations")  # fmt: skip
    if alert_type is AlertType.ERROR_SPIKE and value >= config.static_error_rate:
        reasons.append(f"{value:.0%} of requests failed")
    if alert_type is AlertType.SERVICE_DOWN:
        reasons.append(f"no logs in this bucket; usually about {mean:.0f} per bucket")
    if ratio >= 1.5 or ratio <= 0.67:
        reasons.append(f"{ratio:.2f}x its baseline")
    if abs(change) >= 0.5:
        reasons.append(f"{change:+.0%} on the previous {config.recent_buckets} buckets")
    if not reasons:
        reasons.append(f"{name} {unit(value)} against a baseline of {unit(mean)}")
    return {
        "metric": name,
        "observed": number(value),
        "baseline_mean": number(mean),
        "baseline_std": number(std),
        "baseline_buckets": int(n),
        "z": number(z),
        "ewma": number(ewma),
        "ewma_z": number(ewma_z),
        "ratio": number(ratio),
        "change": number(change),
        "previous_window_mean": number(previous),
        "score": number(score),
        "score_threshold": config.score_threshold,
        "reasons": reasons,
    }


def _formatter(metric: str) -> Callable[[float], str]:
    if metric == "error_rate":
        return lambda v: f"{v:.1%}"
    if metric == "latency_p95_ms":
        return lambda v: f"{v:.0f} ms"
    return lambda v: f"{v:.0f}"


def title(service: str, alert_type: AlertType, details: dict[str, Any], size: int) -> str:
    observed, mean = details["observed"], details["baseline_mean"]
    if alert_type is AlertType.ERROR_SPIKE:
        return f"{service}: error rate {observed:.1%} (baseline {mean:.1%})"
    if alert_type is AlertType.HIGH_LATENCY:
        return f"{service}: p95 latency {observed:.0f} ms (usually {mean:.0f} ms)"
    if alert_type is AlertType.TRAFFIC_DROP:
        return f"{service}: traffic down to {observed:.0f} per {size} s (usually {mean:.0f})"
    if alert_type is AlertType.TRAFFIC_SPIKE:
        return f"{service}: traffic up to {observed:.0f} per {size} s (usually {mean:.0f})"
    silent = details.get("silent_seconds", size)
    return f"{service}: no logs for {silent} s (usually {mean:.0f} per {size} s)"
