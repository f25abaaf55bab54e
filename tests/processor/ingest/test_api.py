"""The processor's HTTP API in-process (real app, real PostgreSQL, controlled clock)."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from starlette.testclient import TestClient

from tracer_core.clock import ManualClock
from tracer_processor.app import create_app
from tracer_processor.settings import ProcessorSettings

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
JSON = {"content-type": "application/json"}


def stamp(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")


def record(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "timestamp": stamp(5),
        "service": "checkout",
        "level": "info",
        "message": "ok",
        "duration_ms": 12.0,
    }
    base.update(changes)
    return base


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def client(database_url: str, clock: ManualClock) -> Iterator[TestClient]:
    settings = ProcessorSettings(database_url=database_url, max_body_bytes=64 * 1024)
    with TestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client


def metric(client: TestClient, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exported")


def test_ingest_answers_202_with_counts_and_per_record_errors(client: TestClient) -> None:
    body = [record(), record(level="error", status_code=502), record(level="shouting")]
    response = client.post("/api/logs", json=body)
    assert response.status_code == 202
    answer = response.json()
    assert answer["accepted"] == 2
    assert answer["rejected"] == 1
    assert answer["late"] == 0
    assert answer["errors"] == [
        {"index": 2, "error": "Invalid enum value 'shouting' - at `$.level`"}
    ]
    assert metric(client, 'tracer_processor_records_accepted_total{source="json"}') == 2
    assert metric(client, 'tracer_processor_records_rejected_total{source="json"}') == 1


def test_envelope_ndjson_and_gzip_bodies(client: TestClient) -> None:
    envelope = client.post("/api/logs", json={"logs": [record(), record()]})
    assert envelope.json()["accepted"] == 2
    lines = b"\n".join(orjson.dumps(record(service=f"s{i}")) for i in range(3))
    ndjson = client.post(
        "/api/logs", content=lines, headers={"content-type": "application/x-ndjson"}
    )
    assert ndjson.json()["accepted"] == 3
    zipped = client.post(
        "/api/logs",
        content=gzip.compress(orjson.dumps([record()] * 4)),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert zipped.status_code == 202
    assert zipped.json()["accepted"] == 4


def test_oversized_and_unreadable_bodies(client: TestClient) -> None:
    big = orjson.dumps([record(message="x" * 60_000), record(message="y" * 60_000)])
    too_big = client.post("/api/logs", content=big, headers={"content-type": "application/json"})
    assert too_big.status_code == 413
    assert "limit" in too_big.json()["error"]
    bomb = zlib.compress(b"[" + b" " * 10_000_000 + b"]", 9)
    assert len(bomb) < 64 * 1024
    inflated = client.post(
        "/api/logs", content=bomb, headers=JSON | {"content-encoding": "deflate"}
    )
    assert inflated.status_code == 413
    assert client.post("/api/logs", content=b"{nope", headers=JSON).status_code == 400
    assert client.post("/api/logs", content=b"", headers=JSON).status_code == 400
    broken = client.post(
        "/api/logs", content=b"\x1f\x8b junk", headers=JSON | {"content-encoding": "gzip"}
    )
    assert broken.status_code == 400
    brotli = client.post("/api/logs", content=b"[]", headers=JSON | {"content-encoding": "br"})
    assert brotli.status_code == 415
    assert client.get("/healthz").status_code == 200


def test_services_show_live_stats_and_baselines(client: TestClient, clock: ManualClock) -> None:
    client.post("/api/logs", json=[record(timestamp=stamp(25 - i * 0.1)) for i in range(100)])
    # Event time reaches `now`: the watermark (now - lateness) closes [now-30 s, now-20 s)
    # and [now-20 s, now-10 s).
    client.post("/api/logs", json=[record(timestamp=stamp(0))])
    rows = client.get("/api/services").json()
    assert len(rows) == 1
    row = rows[0]
    assert (row["project"], row["service"], row["live"]) == ("default", "checkout", True)
    assert row["last_bucket"]["count"] == 50
    assert row["last_bucket"]["latency_p95_ms"] == pytest.approx(12.0, rel=0.15)
    assert row["buckets_scored"] == 2
    assert row["baselines"]["error_rate"]["buckets"] == 2
    assert set(row["baselines"]) == {"error_rate", "latency_p95_ms", "count"}
    assert client.get("/api/services?service=nope").json() == []
    assert client.get("/api/services?limit=0").status_code == 400
    assert metric(client, "tracer_processor_buckets_closed_total") >= 1


def test_alert_listing_validates_its_parameters(client: TestClient) -> None:
    assert client.get("/api/alerts").json() == []
    assert client.get("/api/alerts?status=open&limit=5").status_code == 200
    assert client.get("/api/alerts?status=maybe").status_code == 400
    assert client.get("/api/alerts?limit=5000").status_code == 400
    assert client.get("/api/alerts?limit=-1").status_code == 400


def test_late_records_are_accepted_but_counted_late(client: TestClient, clock: ManualClock) -> None:
    client.post("/api/logs", json=[record(timestamp=stamp(1))])
    clock.advance(60)  # silent for longer than the silence period: the clock closes buckets
    client.app.state.pipeline.tick()  # type: ignore[attr-defined]
    answer = client.post("/api/logs", json=[record(timestamp=stamp(1))]).json()
    assert (answer["accepted"], answer["late"]) == (1, 1)
    assert metric(client, "tracer_processor_records_late_total") == 1
