"""Open alerts outlive a processor: a (re)started processor takes them over and resolves them
once the metric is healthy, instead of leaving them open forever."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from tests.support import wait_until
from tracer_core.clock import ManualClock
from tracer_core.db import create_pool
from tracer_core.models import AlertType, Severity
from tracer_processor.alerts.reports import AlertCandidate
from tracer_processor.alerts.store import PostgresAlertStore
from tracer_processor.app import create_app
from tracer_processor.settings import ProcessorSettings

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


async def _open_alert(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        store = PostgresAlertStore(pool, processor_id="processor-before-restart")
        await store.report(
            AlertCandidate(
                project="shop",
                service="payments",
                alert_type=AlertType.ERROR_SPIKE,
                severity=Severity.HIGH,
                title="payments: error rate 40.0% (baseline 1.0%)",
                window_start=NOW - timedelta(minutes=10),
                window_end=NOW - timedelta(minutes=9),
                details={"observed": 0.4},
            )
        )
        await store.close()
    finally:
        await pool.close()


def test_a_restarted_processor_resolves_an_alert_left_open(database_url: str) -> None:
    asyncio.run(_open_alert(database_url))
    clock = ManualClock(NOW)
    settings = ProcessorSettings(database_url=database_url)
    with TestClient(create_app(settings, clock=clock)) as client:
        rows = client.get("/api/services").json()
        assert [(r["service"], r["open_alerts"]) for r in rows] == [
            ("payments", [{"alert_type": "error_spike", "severity": "high"}])
        ]
        for step in range(12):  # two minutes of healthy traffic, arriving live
            start = NOW + timedelta(seconds=10 * step)
            records = [
                {
                    "timestamp": (start + timedelta(seconds=i * 0.1)).isoformat(),
                    "service": "payments",
                    "project": "shop",
                    "level": "error" if i == 0 else "info",
                    "message": "charge ok",
                }
                for i in range(100)
            ]
            clock.set(start + timedelta(seconds=10.5))
            assert client.post("/api/logs", json=records).json()["accepted"] == 100
            client.app.state.pipeline.tick()  # type: ignore[attr-defined]

        def resolved() -> bool:
            alerts = client.get("/api/alerts", params={"status": "all"}).json()
            return [a["status"] for a in alerts] == ["resolved"]

        wait_until(resolved, timeout=30)
        assert client.get("/api/services").json()[0]["open_alerts"] == []
