"""The detector on seeded traffic and a controlled clock: quiet when nothing happens, the
right alert type and severity when something does, and resolution afterwards."""

from __future__ import annotations

from typing import Any

import pytest

from tests.processor.checks import all_finite
from tests.processor.traffic import Harness, Service
from tracer_core.models import AlertType, Severity
from tracer_processor.alerts.reports import AlertCandidate

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # no inf/NaN arithmetic
HOUR = 3600.0
FLEET = [Service(f"svc-{i}", rate=4.0 + 3 * i, error_rate=0.01 + 0.004 * i) for i in range(8)]


def test_steady_traffic_raises_no_alert() -> None:
    harness = Harness(seed=11)
    harness.run(FLEET, 3 * HOUR)
    assert harness.sink.items == []
    services = harness.pipeline.services()
    assert len(services) == len(FLEET)
    assert all(row["baselines"]["error_rate"]["buckets"] > 300 for row in services)


def test_error_spike_is_an_error_spike_with_severity_by_size() -> None:
    small, big = Service("cart", rate=20.0), Service("checkout", rate=20.0)
    harness = Harness(seed=3)
    harness.run([small, big], HOUR)
    harness.run([small.but(error_rate=0.08), big.but(error_rate=0.6)], 120)
    harness.run([small, big], 600)

    small_alerts = harness.candidates(service="cart")
    big_alerts = harness.candidates(service="checkout")
    assert {a.alert_type for a in small_alerts + big_alerts} == {AlertType.ERROR_SPIKE}
    assert small_alerts[0].severity is Severity.MEDIUM
    assert big_alerts[0].severity is Severity.CRITICAL
    first = big_alerts[0]
    assert first.window_start.timestamp() >= harness.start.timestamp() + HOUR
    details = first.details
    assert 0.5 < details["observed"] < 0.7
    assert details["baseline_mean"] < 0.03
    assert details["z"] > 10
    assert details["samples"][0]["template"] == "payment <n> failed: upstream timeout after <n> ms"
    assert details["samples"][0]["count"] >= 5
    assert all_finite(details)
    # Both resolve once the error rate is back to normal.
    assert {r.service for r in harness.recoveries(AlertType.ERROR_SPIKE)} == {"cart", "checkout"}


def test_errors_after_a_zero_error_baseline_alert_without_crashing() -> None:
    clean = Service("search", rate=10.0, error_rate=0.0)
    harness = Harness(seed=5)
    harness.run([clean], HOUR)
    row = harness.pipeline.services(service="search")[0]
    assert row["baselines"]["error_rate"]["mean"] == 0.0
    assert row["baselines"]["error_rate"]["std"] == 0.0
    harness.run([clean.but(error_rate=0.1)], 60)
    alerts = harness.candidates(AlertType.ERROR_SPIKE, "search")
    assert alerts, "errors after a clean baseline must alert"
    details = alerts[0].details
    assert details["baseline_mean"] < 0.001  # the window's rate, with a small prior
    assert details["ratio"] > 5  # against the floored base, not a division by zero
    assert all_finite(details)


def test_permanent_shift_alerts_then_the_baseline_adapts_and_it_resolves() -> None:
    service = Service("ledger", rate=20.0, error_rate=0.01)
    harness = Harness(seed=9)
    harness.run([service], HOUR)
    harness.run([service.but(error_rate=0.15)], 2 * HOUR)
    alerts = harness.candidates(AlertType.ERROR_SPIKE, "ledger")
    assert alerts
    assert alerts[0].severity is Severity.MEDIUM
    recoveries = harness.recoveries(AlertType.ERROR_SPIKE, "ledger")
    assert len(recoveries) == 1, "a shift that lasts must be learnt, and its alert resolve"
    resolved_after = recoveries[0].window_end - alerts[0].window_start
    assert resolved_after.total_seconds() < HOUR
    assert "error_spike" not in harness.open_types("ledger")
    row = harness.pipeline.services(service="ledger")[0]
    assert row["baselines"]["error_rate"]["mean"] > 0.05  # the new normal


def test_a_low_volume_service_is_judged_on_its_errors_only() -> None:
    """Too few records for latency or volume to mean anything; errors pooled over several
    buckets are still a real test, so a quiet service that mostly fails alerts."""
    quiet = Service("cron", rate=0.3, error_rate=0.3, latency_ms=20.0)
    harness = Harness(seed=13)
    harness.run([quiet], HOUR)
    assert harness.sink.items == []
    harness.run([quiet.but(latency_ms=400.0)], 600)
    harness.run([quiet.but(rate=0.0)], 600)
    assert harness.sink.items == []
    harness.run([quiet.but(error_rate=1.0)], 600)
    assert {a.alert_type for a in harness.candidates(service="cron")} == {AlertType.ERROR_SPIKE}


def test_latency_jump_is_high_latency() -> None:
    api = Service("api", rate=15.0, error_rate=0.0, latency_ms=40.0)
    harness = Harness(seed=17)
    harness.run([api], HOUR)
    harness.run([api.but(latency_ms=200.0)], 180)
    alerts = harness.candidates(service="api")
    assert {a.alert_type for a in alerts} == {AlertType.HIGH_LATENCY}
    assert alerts[0].severity is Severity.HIGH  # five times slower
    assert 250 < alerts[0].details["observed"] < 400
    assert 45 < alerts[0].details["baseline_mean"] < 80


def test_traffic_drop() -> None:
    shop = Service("shop", rate=30.0)
    harness = Harness(seed=19)
    harness.run([shop], HOUR)
    harness.run([shop.but(rate=1.0)], 120)
    alerts = harness.candidates(service="shop")
    assert {a.alert_type for a in alerts} == {AlertType.TRAFFIC_DROP}
    assert alerts[0].severity is Severity.HIGH  # down 97 %
    assert alerts[0].details["ratio"] < 0.1


def test_silence_of_a_live_service_raises_service_down_and_recovery_resolves_it() -> None:
    busy, other = Service("payments", rate=10.0), Service("other", rate=10.0)
    harness = Harness(seed=23)
    harness.run([busy, other], HOUR)
    harness.run([other], 60)  # payments goes silent; only the clock notices
    down = harness.candidates(AlertType.SERVICE_DOWN, "payments")
    assert len(down) == 1
    assert down[0].severity is Severity.HIGH
    assert "no logs" in down[0].title
    harness.run([other], 300)
    escalated = harness.candidates(AlertType.SERVICE_DOWN, "payments")
    assert escalated[-1].severity is Severity.CRITICAL
    assert harness.candidates(AlertType.TRAFFIC_DROP, "payments") == []
    harness.run([busy, other], 120)
    assert len(harness.recoveries(AlertType.SERVICE_DOWN, "payments")) == 1
    assert harness.candidates(service="other") == []


def test_silence_with_no_traffic_at_all_is_noticed_by_the_clock() -> None:
    harness = Harness(seed=29)
    harness.run([Service("lonely", rate=10.0)], HOUR)
    for _ in range(12):  # nothing arrives; the processor's timer keeps going
        harness.clock.advance(10.0)
        harness.pipeline.tick()
    alerts = harness.candidates()
    assert alerts
    assert {c.alert_type for c in alerts} == {AlertType.SERVICE_DOWN}


def _summary(items: list[Any]) -> list[tuple[str, str, str, str]]:
    return [
        (
            type(item).__name__,
            item.service,
            item.alert_type.value,
            item.severity.value if isinstance(item, AlertCandidate) else "",
        )
        for item in items
    ]


@pytest.mark.parametrize("failing", [0.25, 0.5])
def test_an_hour_of_failing_requests_stays_one_open_alert_until_it_ends(failing: float) -> None:
    """A service failing a quarter or half of its requests for an hour is an incident for
    the whole hour: the baseline never takes such an error rate in as normal, nor lets the
    incident's buckets into its window bit by bit, so the alert does not resolve while the
    failures go on, and it resolves soon after they stop."""
    for seed in (3, 4, 5):
        harness = Harness(seed=seed)
        harness.run([Service("api", rate=20.0, error_rate=0.01)], 7200)
        began = harness.event_time
        harness.run([Service("api", rate=20.0, error_rate=failing)], 3600)
        harness.run([Service("api", rate=20.0, error_rate=0.01)], 1800)
        opened = harness.candidates(AlertType.ERROR_SPIKE, "api")
        recovered = harness.recoveries(AlertType.ERROR_SPIKE, "api")
        assert opened
        assert opened[0].window_end.timestamp() - began < 120
        assert len(recovered) == 1
        minutes = (recovered[0].window_end.timestamp() - began) / 60
        assert 60 <= minutes < 70


def _one_alert_for_the_hour(
    alert_type: AlertType, usual: Service, incident: Service, seed: int
) -> None:
    """Two calm hours, an hour of `incident`, half an hour calm again: one alert, opened at
    once, open for the whole hour, resolved within minutes of the end (and not before)."""
    harness = Harness(seed=seed)
    harness.run([usual], 2 * HOUR)
    began = harness.event_time
    harness.run([incident], HOUR)
    harness.run([usual], HOUR / 2)
    opened = harness.candidates(alert_type, usual.name)
    recovered = harness.recoveries(alert_type, usual.name)
    assert opened
    assert opened[0].window_end.timestamp() - began < 60
    assert {a.alert_type for a in harness.candidates(service=usual.name)} == {alert_type}
    assert len(recovered) == 1
    minutes = (recovered[0].window_end.timestamp() - began) / 60
    assert 60 <= minutes < 65


@pytest.mark.parametrize("share", [0.05, 0.1, 0.2])
def test_an_hour_long_drop_stays_one_open_alert_until_traffic_returns(share: float) -> None:
    """Traffic down to 5-20 % for an hour is one traffic_drop for the whole hour: the window
    holds still instead of learning the drop clipped bucket after bucket (which resolved it
    after about 30 minutes), and a level this low is never taken in as normal."""
    api = Service("api", rate=20.0)
    for seed in (3, 4):
        _one_alert_for_the_hour(AlertType.TRAFFIC_DROP, api, api.but(rate=20.0 * share), seed)


def test_an_hour_of_five_times_the_latency_stays_one_open_alert_until_it_ends() -> None:
    api = Service("api", rate=20.0, latency_ms=50.0)
    for seed in (3, 4):
        _one_alert_for_the_hour(AlertType.HIGH_LATENCY, api, api.but(latency_ms=250.0), seed)
