"""Very large bodies are decoded in another process, off the event loop: while a 15 MB
OTLP/JSON export (or JSON batch) is being decoded, another request is served to completion.
Checked by holding the decode, in the decoding process, until the small request has finished
(through named pipes) - a decode on the loop could never see it finish."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from tracer_core.clock import ManualClock
from tracer_processor.app import create_app
from tracer_processor.ingest import routes
from tracer_processor.ingest.batch import LogBatch
from tracer_processor.ingest.otlp import decode_export
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


def held_decode(
    real: Callable[..., Any], parent: int, started: str, release: str, body: bytes, **kwargs: Any
) -> Any:
    """`real`, held in the decoding process until the test says go (sent there by name)."""
    if os.getpid() != parent:
        with open(started, "w") as pipe:
            pipe.write(str(os.getpid()))
        with open(release) as pipe:
            pipe.read()
    return real(body, **kwargs)


@pytest.mark.parametrize("endpoint", ["/v1/logs", "/api/logs"])
def test_a_large_body_decodes_while_other_requests_are_served(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoint: str
) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    os.mkfifo(started)
    os.mkfifo(release)
    if endpoint == "/v1/logs":
        body = otlp_json(15)
        real: Callable[..., LogBatch] = decode_export
        name = "decode_export"
    else:
        line = orjson.dumps(SMALL[0] | {"message": "x" * 200})
        body = b"[" + b",".join([line] * (15 * 1024 * 1024 // (len(line) + 1))) + b"]"
        real, name = parse_logs, "parse_logs"
    held = functools.partial(held_decode, real, os.getpid(), str(started), str(release))
    monkeypatch.setattr(routes, name, held)
    big: dict[str, int] = {}

    def send_big() -> None:
        response = client.post(endpoint, content=body, headers={"content-type": "application/json"})
        big["status"] = response.status_code

    sender = threading.Thread(target=send_big)
    sender.start()
    decoder_pid = int(started.read_text())  # waits until the decoding process holds the body
    small = client.post(
        "/api/logs", content=orjson.dumps(SMALL), headers={"content-type": "application/x-ndjson"}
    )
    release.write_text("go")
    sender.join(timeout=120)
    assert small.status_code == 202  # served while the large body was held mid-decode
    assert decoder_pid != os.getpid()
    assert big["status"] in (200, 202)
