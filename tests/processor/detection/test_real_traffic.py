"""Traffic shaped like production: quiet services, bursty series, daily rhythms, impact.

The detector is stepped directly, one bucket at a time (the bucket number is the clock),
on seeded series long enough to show false alarms: a day of a quiet service, a day of a
bursty one, six days of a shop with a daily rhythm.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.processor.detection.drive import Drive
from tests.processor.traffic import Harness, Service
from tracer_core.models import AlertType, Severity

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # no inf/NaN arithmetic
DAY = 86_400


def quiet_service(rng: np.random.Generator, buckets: int, error_rate: float) -> Iterator[Any]:
    for _ in range(buckets):
        count = float(rng.poisson(10.0))  # 1 record/s in 10 s buckets
        yield count, float(rng.binomial(int(count), error_rate))


def test_a_quiet_service_failing_completely_alerts_within_minutes() -> None:
    rng = np.random.default_rng(1)
    drive = Drive()
    drive.run(quiet_service(rng, 360, 0.01))
    assert drive.alerts() == []
    drive.run(quiet_service(rng, 12, 1.0))  # two minutes at 100 % errors
    alerts = drive.alerts(AlertType.ERROR_SPIKE)
    assert alerts, "a quiet service failing completely must alert"
    assert alerts[0].severity in (Severity.HIGH, Severity.CRITICAL)
    assert drive.first_alert_bucket(AlertType.ERROR_SPIKE) - 360 <= 6  # within a minute


def test_a_quiet_services_usual_noise_stays_quiet_for_a_day() -> None:
    rng = np.random.default_rng(2)
    drive = Drive()
    drive.run(quiet_service(rng, DAY // 10, 0.01))
    assert drive.alerts() == []
    assert drive.all_finite()


def bursty_counts(rng: np.random.Generator, buckets: int) -> Iterator[Any]:
    """About 200 records a bucket, with heavy-tailed bursts (Pareto, up to tens of times)
    in 2 % of the buckets, some lasting several buckets."""
    burst_left, size = 0, 1.0
    for _ in range(buckets):
        if burst_left == 0 and rng.random() < 0.01:
            burst_left, size = int(rng.integers(1, 4)), 1.0 + rng.pareto(1.5)
        level = 200.0 * (size if burst_left else 1.0) * rng.lognormal(0.0, 0.1)
        burst_left = max(burst_left - 1, 0)
        yield float(rng.poisson(level)), 0.0


def test_a_heavy_tailed_bursty_series_is_normal_for_it() -> None:
    rng = np.random.default_rng(3)
    drive = Drive()
    drive.run(bursty_counts(rng, DAY // 10))
    assert len(drive.alerts()) <= 1
    after_warmup = np.array(drive.scores["count"][360:])
    assert after_warmup.max() < drive.config.score_threshold
    assert drive.all_finite()


def shop_counts(rng: np.random.Generator, days: int, drop_at: int | None = None) -> Iterator[Any]:
    """60 s buckets: 120 records a minute from 08:00 to 20:00, 12 at night; optionally 80 %
    down from bucket `drop_at` for 20 minutes."""
    for minute in range(days * 1440):
        hour = (minute // 60) % 24
        rate = 120.0 if 8 <= hour < 20 else 12.0
        if drop_at is not None and drop_at <= minute < drop_at + 20:
            rate *= 0.2
        yield float(rng.poisson(rate)), 0.0


def test_a_daily_rhythm_never_alerts_but_a_drop_at_a_busy_hour_does() -> None:
    rng = np.random.default_rng(4)
    drive = Drive(bucket_seconds=60)
    drive.run(shop_counts(rng, 6))
    later = [a for a in drive.alerts() if a.window_start.timestamp() >= drive.start + DAY]
    assert later == [], [(a.alert_type, a.window_start) for a in later]
    busy = 6 * 1440 + 14 * 60  # 14:00 on the seventh day
    drive.run(shop_counts(rng, 1, drop_at=busy - 6 * 1440), first=6 * 1440)
    drops = [a for a in drive.alerts(AlertType.TRAFFIC_DROP) if a.window_start.timestamp()
             >= drive.start + 6 * DAY]  # fmt: skip
    assert drops
    assert abs(drops[0].window_start.timestamp() - (drive.start + busy * 60)) <= 5 * 60
    assert drive.all_finite()


def test_a_quarter_of_requests_failing_on_a_busy_service_is_high_or_worse() -> None:
    checkout = Service("checkout", rate=50.0, error_rate=0.01)
    harness = Harness(seed=31)
    harness.run([checkout], 3600)
    harness.run([checkout.but(error_rate=0.25)], 120)
    alerts = harness.candidates(AlertType.ERROR_SPIKE, "checkout")
    assert alerts
    assert alerts[0].severity in (Severity.HIGH, Severity.CRITICAL)
    assert 0 < alerts[0].details["score"] <= 50


def rhythm_counts(
    rng: np.random.Generator, buckets: int, drop: tuple[int, int, float]
) -> Iterator[Any]:
    """10 s buckets of a daily rhythm peaking at 13:00 (60 records a bucket, 10 at night);
    buckets [start, end) of `drop` down to its share."""
    start, end, share = drop
    for bucket in range(buckets):
        hour = (bucket * 10 / 3600) % 24
        level = 50.0 * (0.2 + 1.0 * np.exp(-0.5 * ((hour - 13.0) / 4.0) ** 2))
        yield float(rng.poisson(level * (share if start <= bucket < end else 1.0))), 0.0


def test_an_hour_long_drop_at_a_busy_hour_of_a_rhythm_stays_open_until_it_ends() -> None:
    """A day of rhythm, then an hour at a fifth of the usual traffic from 14:00: one
    traffic_drop, open for the whole hour - neither the recent window, nor the usual hour,
    nor the level offset takes the drop in - and resolved soon after the traffic returns."""
    hour = 360  # buckets
    start = DAY // 10 + 14 * hour
    drive = Drive()
    drive.run(rhythm_counts(np.random.default_rng(5), start + 2 * hour, (start, start + hour, 0.2)))
    drops = [b for c, b in zip(drive.candidates, drive.buckets_of, strict=True)
             if c.alert_type is AlertType.TRAFFIC_DROP]  # fmt: skip
    assert drops[0] - start <= 6  # within a minute
    assert all(start <= b < start + hour for b in drops)
    # Re-reported every `report_every` anomalous buckets: anomalous all hour long.
    assert len(drops) >= hour // drive.config.report_every - 2
    recovered = drive.recovered_at(AlertType.TRAFFIC_DROP)
    assert len(recovered) == 1
    assert start + hour <= recovered[0] <= start + hour + 3 * drive.config.resolve_buckets
    assert drive.all_finite()
