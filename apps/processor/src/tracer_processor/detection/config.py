"""Every detector setting and its default, in one place.

The processor's settings (`TRACER_*` variables) and `tracer backtest`'s options take their
defaults from `DETECTOR_DEFAULTS`, so a default changes here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    bucket_seconds: int = 10
    window_buckets: int = 360  # the rolling baseline: 1 h of 10 s buckets
    warmup_buckets: int = 30  # baseline entries needed before a metric may alert
    recent_buckets: int = 6  # the "previous window" of the rate-of-change signal
    ewma_alpha: float = 0.3
    z_threshold: float = 4.0  # deviations worth naming in an alert's reasons
    score_threshold: float = 6.0  # -log10 tail probability that alerts, for every metric
    clip_z: float = 4.0  # deviations beyond this are clipped before the baseline learns them
    burst_prior: float = 1.0e-6  # the least share of buckets assumed to be bursts
    burst_alpha: float = 0.0005  # pace at which the burst rate is learnt (per bucket)
    burst_run_buckets: int = 2  # only the first buckets of a run count as a burst
    sustained_alpha: float = 0.1  # EWMA of clipped deviations: the sustained-shift signal
    sustained_clip: float = 3.0
    pool_buckets: int = 30  # a quiet service's errors are judged over up to this many buckets
    prior_error_rate: float = 0.01  # a new service's error rate, worth `prior_records`
    prior_records: float = 100.0
    seasonal: bool = True  # judge volume against the same hour of day/week as well
    season_memory_cycles: float = 3.0  # days (weeks) a seasonal slot remembers
    generic_values: bool = False  # the count channel carries any metric (backtest --kind value)
    # A generic value's least spread is half its least usual step (`values.py`), and at
    # least this share of its level: float rounding, far below any real metric's noise.
    value_relative_floor: float = 1.0e-6
    wander_ratio: float = 2.0  # level error / local error beyond which a value wanders
    exit_fraction: float = 0.6  # back "within the band" below this share of the thresholds
    min_count: int = 20  # records a bucket needs before its rates are judged
    min_errors: int = 5
    min_latency_samples: int = 20
    error_rate_floor: float = 0.01  # the base of error-rate ratios is at least 1 %
    error_std_floor: float = 0.005
    min_error_delta: float = 0.02  # at least 2 percentage points above the baseline
    min_error_ratio: float = 2.0
    static_error_rate: float = 0.5  # at least half failing is always an incident
    latency_ratio: float = 1.5
    latency_floor_ms: float = 1.0
    min_latency_delta_ms: float = 10.0
    latency_log_std_floor: float = 0.1
    drop_ratio: float = 0.5
    spike_ratio: float = 3.0
    traffic_spike: bool = False
    silence_buckets: int = 3
    critical_silence_buckets: int = 30
    confirm_buckets: int = 2
    resolve_buckets: int = 6
    adopt_buckets: int = 60  # a shift lasting this long starts entering the baseline
    # ...except a change users feel this much (see the severity table): an incident for as
    # long as it lasts, never the service's new normal. An error rate this high ("high"),
    never_normal_error_rate: float = 0.2
    # volume at or below this share of its usual level (70 % down or more: "medium" - a
    # service losing most of its traffic), and a p95 this many times its usual ("high").
    never_normal_traffic_share: float = 0.3
    never_normal_latency_ratio: float = 4.0
    report_every: int = 6  # re-report an ongoing incident every N anomalous buckets

    @property
    def settle_buckets(self) -> int:
        """Empty buckets after which more empty buckets change nothing (safe to skip): the
        window empties of traffic, then fills with the silence."""
        return 2 * self.window_buckets + self.critical_silence_buckets + 2

    @property
    def ewma_scale(self) -> float:
        """Standard deviation of an EWMA relative to that of its inputs."""
        return float(np.sqrt(self.ewma_alpha / (2.0 - self.ewma_alpha)))


DETECTOR_DEFAULTS = DetectorConfig()
