"""The PostgreSQL alert store against a real database: each dedup rule in turn."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tracer_core.models import AlertStatus, AlertType, Severity
from tracer_processor.alerts.reports import AlertCandidate, Decision, Recovery
from tracer_processor.alerts.retry import InvalidAlertError
from tracer_processor.alerts.store import PostgresAlertStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BUCKET = timedelta(seconds=10)


def candidate(
    bucket: int,
    severity: Severity = Severity.MEDIUM,
    *,
    service: str = "checkout",
    alert_type: AlertType = AlertType.ERROR_SPIKE,
    details: dict[str, object] | None = None,
) -> AlertCandidate:
    start = T0 + bucket * BUCKET
    return AlertCandidate(
        project="shop",
        service=service,
        alert_type=alert_type,
        severity=severity,
        title=f"{alert_type.value} on {service} ({severity.value})",
        window_start=start,
        window_end=start + BUCKET,
        details=details or {"observed": 0.4, "bucket": bucket},
    )


def recovery(bucket: int, *, service: str = "checkout") -> Recovery:
    return Recovery(
        project="shop",
        service=service,
        alert_type=AlertType.ERROR_SPIKE,
        window_end=T0 + (bucket + 1) * BUCKET,
    )


def store(
    pool: asyncpg.Pool, processor_id: str = "p1", *, flap_window_seconds: float = 300.0
) -> PostgresAlertStore:
    return PostgresAlertStore(
        pool, processor_id=processor_id, flap_window_seconds=flap_window_seconds
    )


async def events(pool: asyncpg.Pool) -> list[tuple[int, str, str]]:
    rows = await pool.fetch("SELECT alert_id, kind, severity FROM alert_events ORDER BY id")
    return [(r["alert_id"], r["kind"], r["severity"]) for r in rows]


async def age_resolution(pool: asyncpg.Pool, seconds: float) -> None:
    """Move resolved_at into the past, as if that much database time had gone by."""
    await pool.execute(
        "UPDATE alerts SET resolved_at = resolved_at - make_interval(secs => $1) "
        "WHERE resolved_at IS NOT NULL",
        seconds,
    )


async def test_first_detection_opens_an_alert_with_an_outbox_event(pool: asyncpg.Pool) -> None:
    result = await store(pool).report(candidate(0))
    assert result.decision is Decision.OPENED
    row = await pool.fetchrow("SELECT *, now() AS db_now FROM alerts")
    assert row is not None
    assert row["id"] == result.alert_id
    assert row["status"] == "open"
    assert row["reporters"] == {"p1": 1}
    assert row["occurrences"] == 1
    assert row["first_seen_at"] <= row["db_now"]
    assert await events(pool) == [(result.alert_id, "opened", "medium")]


async def test_replicas_merge_into_one_alert_and_are_counted(pool: asyncpg.Pool) -> None:
    first = await store(pool, "p1").report(candidate(0))
    second = await store(pool, "p2").report(candidate(0))
    third = await store(pool, "p2").report(candidate(1))
    assert [r.decision for r in (first, second, third)] == [
        Decision.OPENED,
        Decision.MERGED,
        Decision.MERGED,
    ]
    assert first.alert_id == second.alert_id == third.alert_id
    row = await pool.fetchrow("SELECT * FROM alerts")
    assert row is not None
    assert row["reporters"] == {"p1": 1, "p2": 2}
    assert row["occurrences"] == 3
    assert row["window_end"] == T0 + 2 * BUCKET
    assert row["last_seen_at"] >= row["first_seen_at"]
    assert len(await events(pool)) == 1


async def test_severity_only_goes_up_and_each_rise_is_an_event(pool: asyncpg.Pool) -> None:
    s = store(pool)
    assert (await s.report(candidate(0, Severity.LOW))).decision is Decision.OPENED
    assert (await s.report(candidate(1, Severity.HIGH))).decision is Decision.ESCALATED
    assert (await s.report(candidate(2, Severity.MEDIUM))).decision is Decision.MERGED
    assert (await s.report(candidate(3, Severity.CRITICAL))).decision is Decision.ESCALATED
    row = await pool.fetchrow("SELECT severity, title FROM alerts")
    assert row is not None
    assert row["severity"] == "critical"
    assert "critical" in row["title"]
    assert [kind_sev[1:] for kind_sev in await events(pool)] == [
        ("opened", "low"),
        ("escalated", "high"),
        ("escalated", "critical"),
    ]


async def test_recovery_resolves_once_and_later_recoveries_are_ignored(pool: asyncpg.Pool) -> None:
    opened = await store(pool, "p1").report(candidate(0))
    resolved = await store(pool, "p1").recover(recovery(5))
    again = await store(pool, "p2").recover(recovery(5))
    assert resolved.decision is Decision.RESOLVED
    assert resolved.alert_id == opened.alert_id
    assert again.decision is Decision.IGNORED
    row = await pool.fetchrow("SELECT status, resolved_at, recovered_through FROM alerts")
    assert row is not None
    assert row["status"] == "resolved"
    assert row["resolved_at"] is not None
    assert row["recovered_through"] == T0 + 6 * BUCKET
    assert [e[1] for e in await events(pool)] == ["opened", "resolved"]


async def test_recovery_older_than_the_alerts_evidence_is_ignored(pool: asyncpg.Pool) -> None:
    s = store(pool)
    await s.report(candidate(0))
    await s.report(candidate(4))
    assert (await s.recover(recovery(3))).decision is Decision.IGNORED
    assert (await s.recover(recovery(4))).decision is Decision.IGNORED
    assert (await s.recover(recovery(5))).decision is Decision.RESOLVED


async def test_late_copy_of_a_resolved_incident_merges_without_reopening(
    pool: asyncpg.Pool,
) -> None:
    await store(pool, "p1").report(candidate(0))
    await store(pool, "p1").recover(recovery(3))
    await age_resolution(pool, 3600)  # far outside every window: only event time matters
    late = await store(pool, "lagging").report(candidate(0, Severity.HIGH))
    assert late.decision is Decision.MERGED
    row = await pool.fetchrow("SELECT status, occurrences, severity, reporters FROM alerts")
    assert row is not None
    assert row["status"] == "resolved"
    assert row["occurrences"] == 2
    assert row["severity"] == "high"  # recorded, but nothing is sent for a closed alert
    assert row["reporters"] == {"p1": 1, "lagging": 1}
    assert [e[1] for e in await events(pool)] == ["opened", "resolved"]


async def test_detection_just_after_resolution_is_covered_by_database_time(
    pool: asyncpg.Pool,
) -> None:
    """Event time cannot place a detection that precedes the whole incident: the database
    clock decides, with the dedup window plus the allowed clock skew."""
    await store(pool, "p1").report(candidate(5))
    await store(pool, "p1").recover(recovery(9))
    await age_resolution(pool, 7.5)  # inside 5 s + 3 s skew
    assert (await store(pool, "p2").report(candidate(3))).decision is Decision.MERGED
    await age_resolution(pool, 1.0)  # now 8.5 s: outside the window, inside the flap period
    assert (await store(pool, "p3").report(candidate(2))).decision is Decision.REOPENED
    assert await pool.fetchval("SELECT count(*) FROM alerts") == 1


async def test_detection_within_the_incident_span_never_reopens(pool: asyncpg.Pool) -> None:
    """Between the last anomalous bucket and the recovery is still the same incident."""
    await store(pool, "p1").report(candidate(0))
    await store(pool, "p1").recover(recovery(5))
    await age_resolution(pool, 3600)
    assert (await store(pool, "p2").report(candidate(4))).decision is Decision.MERGED
    assert (await store(pool, "p2").report(candidate(6))).decision is Decision.OPENED


async def test_newer_evidence_after_a_recovery_reopens_at_once(pool: asyncpg.Pool) -> None:
    first = await store(pool).report(candidate(0))
    await store(pool).recover(recovery(3))
    again = await store(pool).report(candidate(4, Severity.LOW))
    assert again.decision is Decision.REOPENED
    assert again.alert_id == first.alert_id
    row = await pool.fetchrow("SELECT status, reopen_count, resolved_at, occurrences FROM alerts")
    assert row is not None
    assert (row["status"], row["reopen_count"], row["resolved_at"]) == ("open", 1, None)
    assert [e[1] for e in await events(pool)] == ["opened", "resolved", "reopened"]


async def test_a_new_incident_after_the_flap_period_is_a_new_alert(pool: asyncpg.Pool) -> None:
    s = store(pool, flap_window_seconds=300.0)
    first = await s.report(candidate(0))
    await s.recover(recovery(3))
    await age_resolution(pool, 301.0)
    second = await s.report(candidate(40))
    assert second.decision is Decision.OPENED
    assert second.alert_id != first.alert_id
    # Stragglers of the first incident land on the first alert, open or not.
    straggler = await store(pool, "p9").report(candidate(1))
    assert (straggler.decision, straggler.alert_id) == (Decision.MERGED, first.alert_id)
    await s.recover(recovery(45))
    await age_resolution(pool, 10_000)
    late = await store(pool, "p8").report(candidate(2))
    assert (late.decision, late.alert_id) == (Decision.MERGED, first.alert_id)
    rows = await pool.fetch("SELECT status, window_start FROM alerts ORDER BY id")
    assert [(r["status"], r["window_start"]) for r in rows] == [
        ("resolved", T0),
        ("resolved", T0 + 40 * BUCKET),
    ]


async def test_the_same_report_retried_is_counted_once(pool: asyncpg.Pool) -> None:
    s = store(pool)
    first = await s.report(candidate(0))
    retried = await s.report(candidate(0))
    assert retried == first
    resolved = await s.recover(recovery(2))
    assert await s.recover(recovery(2)) == resolved
    row = await pool.fetchrow("SELECT occurrences, reporters FROM alerts")
    assert row is not None
    assert (row["occurrences"], row["reporters"]) == (1, {"p1": 1})
    assert [e[1] for e in await events(pool)] == ["opened", "resolved"]


async def test_other_fingerprints_are_independent(pool: asyncpg.Pool) -> None:
    s = store(pool)
    a = await s.report(candidate(0, service="cart"))
    b = await s.report(candidate(0, service="search"))
    c = await s.report(candidate(0, alert_type=AlertType.HIGH_LATENCY))
    assert {a.decision, b.decision, c.decision} == {Decision.OPENED}
    assert len({a.alert_id, b.alert_id, c.alert_id}) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"window_start": datetime(2026, 3, 1, 12, 0)}, "timezone-aware"),
        ({"window_end": T0 - BUCKET}, "before window_start"),
        ({"severity": "apocalyptic"}, "unknown severity"),
        ({"alert_type": "vibes"}, "unknown alert_type"),
        ({"service": " "}, "service must be"),
    ],
)
async def test_malformed_detections_are_refused_clearly(
    pool: asyncpg.Pool, change: dict[str, object], message: str
) -> None:
    fields: dict[str, object] = {
        "project": "shop",
        "service": "checkout",
        "alert_type": AlertType.ERROR_SPIKE,
        "severity": Severity.LOW,
        "title": "t",
        "window_start": T0,
        "window_end": T0 + BUCKET,
    }
    fields.update(change)
    bad = AlertCandidate(**fields)  # type: ignore[arg-type]
    with pytest.raises(InvalidAlertError, match=message):
        await store(pool).report(bad)
    assert await pool.fetchval("SELECT count(*) FROM alerts") == 0


async def test_details_are_stored_as_finite_json(pool: asyncpg.Pool) -> None:
    details = {"z": math.inf, "mean": math.nan, "observed": 3, "nested": {"r": [1.5, -math.inf]}}
    await store(pool).report(candidate(0, details=details))
    [alert] = await store(pool).list_alerts(status=None, service=None, limit=10)
    assert alert.details == {"z": None, "mean": None, "observed": 3, "nested": {"r": [1.5, None]}}


async def test_list_alerts_filters_and_orders_newest_first(pool: asyncpg.Pool) -> None:
    s = store(pool)
    await s.report(candidate(0, service="cart"))
    await s.report(candidate(0, service="search"))
    await s.recover(recovery(3, service="cart"))
    everything = await s.list_alerts(status=None, service=None, limit=10)
    assert [a.service for a in everything] == ["search", "cart"]
    open_only = await s.list_alerts(status=AlertStatus.OPEN, service=None, limit=10)
    assert [a.service for a in open_only] == ["search"]
    cart = await s.list_alerts(status=AlertStatus.RESOLVED, service="cart", limit=1)
    assert [(a.service, a.status, a.resolved_at is not None) for a in cart] == [
        ("cart", AlertStatus.RESOLVED, True)
    ]
    for bad in (0, 1001, -5):
        with pytest.raises(ValueError, match="limit"):
            await s.list_alerts(status=None, service=None, limit=bad)


@pytest.mark.parametrize(
    "option",
    ["dedup_window_seconds", "clock_skew_seconds", "flap_window_seconds", "statement_timeout"],
)
async def test_store_settings_must_be_finite_and_non_negative(
    pool: asyncpg.Pool, option: str
) -> None:
    for bad in (math.nan, math.inf, -1.0):
        with pytest.raises(ValueError, match=option):
            PostgresAlertStore(pool, processor_id="p", **{option: bad})  # type: ignore[arg-type]


async def test_old_report_receipts_are_pruned(pool: asyncpg.Pool) -> None:
    s = PostgresAlertStore(pool, processor_id="p1", report_retention_seconds=3600)
    await s.report(candidate(0))
    await s.report(candidate(1))
    await pool.execute("UPDATE alert_reports SET created_at = now() - interval '2 hours'")
    await s.report(candidate(2))
    assert await s.prune_reports() == 2
    assert await pool.fetchval("SELECT count(*) FROM alert_reports") == 1


async def test_receipts_are_pruned_in_the_background_as_decisions_go_on(
    pool: asyncpg.Pool,
) -> None:
    s = PostgresAlertStore(
        pool, processor_id="p1", report_retention_seconds=60, prune_every_seconds=0
    )
    await s.report(candidate(0))
    await s.close()  # lets the pruning round started by that decision finish
    await pool.execute("UPDATE alert_reports SET created_at = now() - interval '2 minutes'")
    await s.report(candidate(1))  # starts another round, does not wait for it
    await s.close()
    assert await pool.fetchval("SELECT count(*) FROM alert_reports") == 1


async def test_a_backfill_keeps_incidents_days_apart_in_separate_alerts(
    pool: asyncpg.Pool,
) -> None:
    """Reported within seconds (a replay), but two days apart in event time: two incidents."""
    s = store(pool, flap_window_seconds=300.0)
    first = await s.report(candidate(0))
    await s.recover(recovery(3))
    two_days = int(2 * 86_400 / BUCKET.total_seconds())
    second = await s.report(candidate(two_days))
    assert second.decision is Decision.OPENED
    assert second.alert_id != first.alert_id
    # Within the flap period in event time too: still a flap of the second incident.
    await s.recover(recovery(two_days + 3))
    again = await s.report(candidate(two_days + 5))
    assert (again.decision, again.alert_id) == (Decision.REOPENED, second.alert_id)
