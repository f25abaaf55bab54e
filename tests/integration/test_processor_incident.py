"""End to end over HTTP: an incident in ingested logs becomes one alert row in PostgreSQL
(with its outbox events), visible at GET /api/alerts, and resolves; hostile requests get
clear errors and the processor stays up."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from tests.processor.server import metric_value, running_processor
from tests.support import wait_until

JSON = {"content-type": "application/json"}


def _history(rng: random.Random) -> list[dict[str, Any]]:
    """75 minutes of one service, ending 30 minutes ago, with 5 minutes of 40 % errors."""
    now = datetime.now(UTC).timestamp()
    start = datetime.fromtimestamp(now - now % 10, UTC) - timedelta(minutes=105)
    records: list[dict[str, Any]] = []
    for second in range(75 * 60):
        incident = 60 * 60 <= second < 65 * 60
        for _ in range(rng.randint(6, 10)):
            failed = rng.random() < (0.4 if incident else 0.01)
            when = start + timedelta(seconds=second + rng.random())
            records.append(
                {
                    "timestamp": when.isoformat().replace("+00:00", "Z"),
                    "service": "payments",
                    "project": "shop",
                    "level": "error" if failed else "info",
                    "message": f"charge {rng.randint(1, 10**9)} declined by gateway"
                    if failed
                    else "charge ok",
                    "duration_ms": rng.lognormvariate(3.5, 0.3),
                }
            )
    return records


async def _rows(database_url: str) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    conn = await asyncpg.connect(database_url)
    try:
        alerts = await conn.fetch("SELECT * FROM alerts ORDER BY id")
        events = await conn.fetch("SELECT kind, alert_id FROM alert_events ORDER BY id")
        return alerts, events
    finally:
        await conn.close()


def test_an_ingested_incident_becomes_one_alert_that_resolves(
    database_url: str, tmp_path: Path
) -> None:
    records = _history(random.Random(5))
    with (
        running_processor(database_url, tmp_path) as url,
        httpx.Client(timeout=30, headers=JSON) as http,
    ):
        for offset in range(0, len(records), 1000):
            chunk = orjson.dumps(records[offset : offset + 1000])
            response = http.post(f"{url}/api/logs", content=chunk)
            assert response.status_code == 202
            assert response.json()["rejected"] == 0

        def resolved() -> bool:
            alerts = http.get(f"{url}/api/alerts", params={"status": "resolved"}).json()
            return any(a["alert_type"] == "error_spike" for a in alerts)

        wait_until(resolved, timeout=60)  # the idle replay flushes its last buckets
        alerts = http.get(f"{url}/api/alerts", params={"status": "all"}).json()
        assert [(a["project"], a["service"], a["alert_type"]) for a in alerts] == [
            ("shop", "payments", "error_spike")
        ]
        alert = alerts[0]
        assert alert["severity"] in ("high", "critical")
        assert alert["status"] == "resolved"
        assert "payments: error rate" in alert["title"]
        details = alert["details"]
        assert details["observed"] > 0.2
        assert details["baseline_mean"] < 0.03
        assert details["samples"][0]["template"] == "charge <n> declined by gateway"
        assert metric_value(url, 'tracer_processor_alert_decisions_total{decision="opened"}') == 1
        assert metric_value(url, 'tracer_processor_alert_decisions_total{decision="resolved"}') == 1
        assert metric_value(url, "tracer_processor_detection_seconds_count") > 100

    alerts_rows, events = asyncio.run(_rows(database_url))
    assert len(alerts_rows) == 1
    assert alerts_rows[0]["fingerprint"] == "shop/payments/error_spike"
    kinds = [event["kind"] for event in events]
    assert kinds[0] == "opened"
    assert kinds[-1] == "resolved"


def test_hostile_requests_get_clear_errors_and_the_processor_stays_up(
    database_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    good = orjson.dumps({"timestamp": now, "service": "s", "level": "info", "message": "ok"})
    huge_line = orjson.dumps({"timestamp": now, "service": "s", "level": "info",
                              "message": "x" * 10_000_000})  # fmt: skip
    with (
        running_processor(database_url, tmp_path) as url,
        httpx.Client(timeout=60, headers=JSON) as http,
    ):
        ndjson = {"content-type": "application/x-ndjson"}
        answer = http.post(f"{url}/api/logs", content=good + b"\n" + huge_line + b"\n" + good,
                           headers=ndjson)  # fmt: skip
        assert answer.status_code == 202
        assert (answer.json()["accepted"], answer.json()["rejected"]) == (2, 1)
        assert "length <= 65536" in answer.json()["errors"][0]["error"]

        too_big = http.post(f"{url}/api/logs", content=b"[" + b" " * (17 * 1024 * 1024) + b"]")
        assert too_big.status_code == 413
        deep = http.post(f"{url}/api/logs", content=b"[" * 200_000 + b"]" * 200_000)
        assert deep.status_code == 400
        assert "nested too deeply" in deep.json()["error"]
        nan = http.post(f"{url}/api/logs", content=b'[{"timestamp": NaN}]')
        assert nan.status_code == 400
        protobuf = {"content-type": "application/x-protobuf"}
        garbage = http.post(f"{url}/v1/logs", content=b"\x00" * 1000, headers=protobuf)
        assert garbage.status_code == 400

        assert http.get(f"{url}/healthz").status_code == 200
        assert http.get(f"{url}/readyz").status_code == 200
        after = http.post(f"{url}/api/logs", content=b"[" + good + b"]")
        assert after.json()["accepted"] == 1
