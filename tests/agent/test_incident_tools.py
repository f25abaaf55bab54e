"""The chat's incident tools answer plain JSON from the alert, delivery and summary stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg

from tests.agent.helpers import add_event, open_alert
from tracer_agent.chat.incidents import IncidentTools
from tracer_agent.stores.alerts import AlertStore


async def test_tools_list_search_describe_and_count_alerts(pool: asyncpg.Pool) -> None:
    checkout, _ = await open_alert(pool, service="checkout", severity="high")
    payments, _ = await open_alert(pool, service="payments", alert_type="high_latency")
    await add_event(pool, payments, "resolved", "medium")
    tools = IncidentTools(pool)

    listed = await tools.list_alerts(status="open")
    assert [a["id"] for a in listed["alerts"]] == [checkout]
    assert listed["alerts"][0]["severity"] == "high"
    assert set(listed["alerts"][0]) == {
        "id", "project", "service", "alert_type", "severity", "status", "title",
        "window_start", "window_end", "first_seen_at", "last_seen_at", "resolved_at",
        "occurrences",
    }  # fmt: skip
    found = await tools.search_alerts("latency")
    assert [a["id"] for a in found["alerts"]] == [payments]

    alert = await tools.get_alert(checkout)
    assert alert["fingerprint"] == "default/checkout/error_spike"
    assert [e["kind"] for e in alert["events"]] == ["opened"]
    assert alert["deliveries"] == []
    assert alert["summary"] is None
    assert (await tools.get_alert(10**9)) == {"error": f"alert {10**9} does not exist"}

    stats = await tools.service_stats()
    by_service = {s["service"]: s for s in stats["services"]}
    assert by_service["checkout"]["open_alerts"] == 1
    assert by_service["payments"]["open_alerts"] == 0
    assert by_service["checkout"]["latest_baseline"]["z_score"] == 9.5
    json.dumps([listed, found, alert, stats])  # every answer is plain JSON


async def test_store_tells_which_cited_alerts_exist(pool: asyncpg.Pool) -> None:
    first, _ = await open_alert(pool, service="checkout")
    store = AlertStore(pool)
    assert await store.existing_ids(alert_ids=[first + 100, first]) == [first]
    assert await store.exists(alert_id=first)
    assert not await store.exists(alert_id=first + 100)


async def test_service_history_sums_rollups_per_hour(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for hours_ago, errors in ((30, 60), (29, 6), (2, 6)):  # yesterday had a bad hour
        for minute in range(3):
            await pool.execute(
                "INSERT INTO service_rollups (project, service, minute, count, errors, p95_ms, "
                "anomalous) VALUES ('default', 'checkout', $1, 100, $2, $3, $4)",
                now - timedelta(hours=hours_ago) + timedelta(minutes=minute),
                errors // 3,
                90.0 + minute,
                errors > 10,
            )
    history = await IncidentTools(pool).service_history("Checkout", 48, 24)
    json.dumps(history)
    assert [h["error_rate"] for h in history["hours"]] == [0.2, 0.02]
    assert history["hours"][0]["count"] == 300
    assert history["hours"][0]["anomalous_minutes"] == 3
    assert history["hours"][0]["max_p95_ms"] == 92.0
    recent = await IncidentTools(pool).service_history("checkout")
    assert recent["count"] == 1


async def test_recent_incidents_include_a_resolved_one_with_its_timeline(
    pool: asyncpg.Pool,
) -> None:
    checkout, _ = await open_alert(pool, service="checkout", severity="high")
    await add_event(pool, checkout, "resolved", "high")
    old, _ = await open_alert(pool, service="cart", severity="high")
    await add_event(pool, old, "resolved", "high")
    await pool.execute(
        "UPDATE incidents SET opened_at = now() - interval '3 days', "
        "resolved_at = now() - interval '3 days' WHERE service = 'cart'"
    )
    tools = IncidentTools(pool, lookback_hours=24)

    recent = await tools.recent_incidents()
    assert [i["service"] for i in recent["incidents"]] == ["checkout"]
    incident = recent["incidents"][0]
    assert incident["status"] == "resolved"
    assert [e["kind"] for e in incident["events"]] == ["opened", "resolved"]
    assert [a["id"] for a in incident["alerts"]] == [checkout]
    json.dumps(recent)
    assert (await tools.recent_incidents(service="payments"))["count"] == 0
