"""Large bodies are decoded off the event loop: while a 15 MB OTLP/JSON export (or JSON batch)
is being decoded, another request is served to completion. Checked by holding the decode
until the small request has finished - a decode on the loop could never see it finish."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from tracer_core.clock import ManualClock
from tracer_processor.app import create_app
from tracer_processor.ingest import routes
from tracer_processor.ingest.otlp import decode_request
from tracer_processor.ingest.records import parse_logs
from tracer_processor.settings import ProcessorSettings

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NANOS = int((NOW.timestamp() - 5) * 1e9)
SMALL = [{"timestamp": "2026-03-02T11:59:59Z", "service": "a", "level": "info", "message": "m"}]


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = ProcessorSettings(database_url=database_url, checkpoint_seconds=0)
    with TestClient(create_app(settings, clock=ManualClock(NOW))) as test_client:
        yield test_client


def otlp_json(megabytes: int) -> bytes:
    record = {"timeUnixNano": str(NANOS), "severityNumber": 9, "body": {"stringValue": "x" * 200}}
    count = megabytes * 1024 * 1024 // len(orjson.dumps(record))
    service = {"key": "service.name", "value": {"stringValue": "big"}}
    export = {
        "resourceLogs": [
            {"resource": {"attributes": [service]}, "scopeLogs": [{"logRecords": [record] * count}]}
        ]
    }
    return orjson.dumps(export)


def held_until(
    done: threading.Event, started: threading.Event, real: Callable[..., Any]
) -> tuple[Callable[..., Any], list[bool]]:
    seen: list[bool] = []

    def decode(body: bytes, **kwargs: Any) -> Any:
        if len(body) > routes.OFFLOAD_BYTES:  # hold the big decode, not the small one
            started.set()
            seen.append(done.wait(timeout=30))
        return real(body, **kwargs)

    return decode, seen


@pytest.mark.parametrize("endpoint", ["/v1/logs", "/api/logs"])
def test_a_large_body_decodes_while_other_requests_are_served(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    started, small_done = threading.Event(), threading.Event()
    if endpoint == "/v1/logs":
        body = otlp_json(15)
        decode, seen = held_until(small_done, started, decode_request)
        monkeypatch.setattr(routes, "decode_request", decode)
    else:
        line = orjson.dumps(SMALL[0] | {"message": "x" * 200})
        body = b"[" + b",".join([line] * (15 * 1024 * 1024 // (len(line) + 1))) + b"]"
        decode, seen = held_until(small_done, started, parse_logs)
        monkeypatch.setattr(routes, "parse_logs", decode)
    big: dict[str, int] = {}

    def send_big() -> None:
        response = client.post(endpoint, content=body, headers={"content-type": "application/json"})
        big["status"] = response.status_code

    sender = threading.Thread(target=send_big)
    sender.start()
    assert started.wait(timeout=30)
    small = client.post(
        "/api/logs", content=orjson.dumps(SMALL), headers={"content-type": "application/x-ndjson"}
    )
    small_done.set()
    sender.join(timeout=60)
    assert small.status_code == 202
    assert seen == [True]  # the small request finished while the big one was decoding
    assert big["status"] in (200, 202)
