"""Hostile text at the edge: a NUL, an invalid byte or a bidi override in one record never
hides an incident, loses the good records of a batch, or reaches a destination."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from starlette.testclient import TestClient

from tracer_core.clock import ManualClock
from tracer_processor.app import create_app
from tracer_processor.ingest.batch import IngestLimits
from tracer_processor.ingest.records import parse_logs
from tracer_processor.settings import ProcessorSettings

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
BUCKET = 10


def line(
    at: datetime, *, service: str = "checkout", level: str = "info", message: str = "ok"
) -> dict[str, object]:
    stamp = at.isoformat().replace("+00:00", "Z")
    return {"timestamp": stamp, "service": service, "level": level, "message": message}


def parse(body: bytes, *, ndjson: bool = False):  # type: ignore[no-untyped-def]
    return parse_logs(body, ndjson=ndjson, now=NOW.timestamp(), limits=IngestLimits())


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def client(database_url: str, clock: ManualClock) -> Iterator[TestClient]:
    settings = ProcessorSettings(
        database_url=database_url,
        window_seconds=60,
        warmup_buckets=3,
        confirm_buckets=1,
        checkpoint_seconds=0,
    )
    with TestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client


def alerts_within(client: TestClient, seconds: float) -> list[dict[str, object]]:
    deadline = time.monotonic() + seconds
    while True:
        found = client.get("/api/alerts").json()
        if found or time.monotonic() > deadline:
            return list(found)
        time.sleep(0.02)


def test_a_nul_in_one_error_line_among_a_hundred_still_alerts(
    client: TestClient, clock: ManualClock
) -> None:
    start = NOW - timedelta(seconds=20 * BUCKET)
    for bucket in range(12):  # a healthy baseline
        at = start + timedelta(seconds=bucket * BUCKET)
        clock.set(at + timedelta(seconds=BUCKET))
        body = [line(at + timedelta(seconds=i * 0.2)) for i in range(40)]
        assert client.post("/api/logs", json=body).status_code == 202
    at = start + timedelta(seconds=12 * BUCKET)
    errors = [
        line(at + timedelta(seconds=i * 0.05), level="error", message=f"boom {i}")
        for i in range(100)
    ]
    errors[0]["message"] = "payment failed\u0000 \u001b[31mred\u202eevil"
    clock.set(at + timedelta(seconds=BUCKET))
    assert client.post("/api/logs", json=errors).json()["accepted"] == 100
    for bucket in range(13, 16):  # later records close the spike's bucket
        later = start + timedelta(seconds=bucket * BUCKET)
        clock.set(later + timedelta(seconds=BUCKET))
        client.post("/api/logs", json=[line(later + timedelta(seconds=i * 0.2)) for i in range(40)])
    found = alerts_within(client, 10.0)
    assert [a["alert_type"] for a in found] == ["error_spike"]
    text = orjson.dumps(found).decode()  # the escapes are visible text, not control codes
    assert "payment failed\\\\u0000 \\\\u001b[31mred\\\\u202eevil" in text
    metrics = client.get("/metrics").text
    assert "tracer_processor_alert_writer_rejected_total 0.0" in metrics


def records(count: int) -> list[bytes]:
    return [orjson.dumps(line(NOW - timedelta(seconds=5), message=f"m{i}")) for i in range(count)]


@pytest.mark.parametrize("ndjson", [False, True])
@pytest.mark.parametrize("bad", [b"bad \xff\xfe byte", b"lone \\ud800 surrogate", b"low \\udc00"])
def test_one_record_with_broken_text_is_rejected_alone(
    client: TestClient, ndjson: bool, bad: bytes
) -> None:
    lines = records(10)
    lines[3] = lines[3].replace(b'"m3"', b'"' + bad + b'"')
    if ndjson:
        body, media = b"\n".join(lines), "application/x-ndjson"
    else:
        body, media = b"[" + b",".join(lines) + b"]", "application/json"
    response = client.post("/api/logs", content=body, headers={"content-type": media})
    assert response.status_code == 202
    answer = response.json()
    assert (answer["accepted"], answer["rejected"]) == (9, 1)
    assert answer["errors"][0]["index"] == 3
    assert "UTF-8" in answer["errors"][0]["error"]


def test_proper_surrogate_pairs_and_escaped_backslashes_are_not_broken_text() -> None:
    lines = records(3)
    lines[0] = lines[0].replace(b'"m0"', b'"smile \\ud83d\\ude00"')
    lines[1] = lines[1].replace(b'"m1"', b'"path C:\\\\ud800"')  # a backslash, then text
    lines[2] = lines[2].replace(b'"m2"', b'"bad \\ud800"')
    batch = parse(b"[" + b",".join(lines) + b"]")
    assert batch.size == 2
    assert [e.index for e in batch.errors] == [2]


def test_names_lose_control_and_bidi_characters_and_messages_show_them_escaped() -> None:
    body = [
        line(
            NOW - timedelta(seconds=5),
            service="check\u0000out\u202e",
            level="error",
            message="a\u0000b\u001bc\td\u2066e",
        ),
        line(NOW - timedelta(seconds=5), service="\u0000\u001b\u202e"),
    ]
    batch = parse(orjson.dumps(body))
    assert batch.services == ["checkout"]
    assert batch.messages[0] == "a\\u0000b\\u001bc\td\\u2066e"
    assert batch.errors[0].index == 1
    assert "printable" in batch.errors[0].error
