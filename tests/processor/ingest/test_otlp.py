"""OTLP/HTTP logs (`POST /v1/logs`), protobuf and JSON, decoded with opentelemetry-proto."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from starlette.testclient import TestClient

from tracer_core.clock import ManualClock
from tracer_processor.app import create_app
from tracer_processor.settings import ProcessorSettings

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NANOS = int(NOW.timestamp() * 1e9)
PROTOBUF = {"content-type": "application/x-protobuf"}


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = ProcessorSettings(database_url=database_url)
    with TestClient(create_app(settings, clock=ManualClock(NOW))) as test_client:
        yield test_client


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, str):
        return KeyValue(key=key, value=AnyValue(string_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(double_value=float(value)))  # type: ignore[arg-type]


def export(service: str, records: list[LogRecord], **resource: str) -> ExportLogsServiceRequest:
    attributes = [_kv("service.name", service), *(_kv(k, v) for k, v in resource.items())]
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=Resource(attributes=attributes),
                scope_logs=[ScopeLogs(log_records=records)],
            )
        ]
    )


def log(seconds_ago: float, severity: int = 9, body: str = "ok", **attributes: object) -> LogRecord:
    return LogRecord(
        time_unix_nano=NANOS - int(seconds_ago * 1e9),
        severity_number=severity,  # type: ignore[arg-type]
        body=AnyValue(string_value=body),
        attributes=[_kv(k, v) for k, v in attributes.items()],
    )


def test_protobuf_export_is_counted_and_mapped(client: TestClient) -> None:
    request = export(
        "cart",
        [
            log(3, duration_ms=12.5),
            log(2, severity=17, body="db down"),
            log(1, 9, "ok", **{"http.response.status_code": 503}),
        ],
        **{"tracer.project": "shop"},
    )
    response = client.post("/v1/logs", content=request.SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    answer = ExportLogsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_log_records == 0
    rows = client.get("/api/services").json()
    assert [(r["project"], r["service"]) for r in rows] == [("shop", "cart")]
    batch_metrics = client.get("/metrics").text
    assert 'tracer_processor_records_accepted_total{source="otlp"} 3.0' in batch_metrics


def test_json_export_with_a_bad_record_reports_partial_success(client: TestClient) -> None:
    body = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]
                },
                "scopeLogs": [
                    {
                        "logRecords": [
                            {"timeUnixNano": str(NANOS - 10**9), "severityNumber": 17,
                             "body": {"stringValue": "boom"}, "traceId": "5b8efff798038103d2"},
                            {"timeUnixNano": "1000", "body": {"kvlistValue": {"values": []}}},
                            {"observedTimeUnixNano": str(NANOS), "severityText": "ERROR"},
                        ]
                    }
                ],
            }
        ]
    }  # fmt: skip
    response = client.post(
        "/v1/logs", content=orjson.dumps(body), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["partialSuccess"]["rejectedLogRecords"] == "1"
    assert "record 1" in answer["partialSuccess"]["errorMessage"]


def test_unreadable_exports_get_otlp_errors(client: TestClient) -> None:
    garbage = client.post("/v1/logs", content=b"\xff\xff\xff not protobuf", headers=PROTOBUF)
    assert garbage.status_code == 400
    assert garbage.headers["content-type"] == "application/x-protobuf"
    assert b"not a valid OTLP protobuf" in garbage.content
    bad_json = client.post(
        "/v1/logs", content=b'{"resourceLogs": 5}', headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert "OTLP/JSON" in bad_json.json()["message"]
    wrong_type = client.post("/v1/logs", content=b"x", headers={"content-type": "text/plain"})
    assert wrong_type.status_code == 415
    assert client.get("/healthz").status_code == 200


def _delimited(field: int, payload: bytes) -> bytes:
    assert len(payload) < 128  # a one-byte length
    return bytes([field << 3 | 2, len(payload)]) + payload


def test_a_protobuf_record_with_invalid_utf8_is_rejected_alone(client: TestClient) -> None:
    good = log(2, severity=17, body="db down").SerializeToString()
    bad = log(1, severity=17, body="placeholder").SerializeToString()
    bad = bad.replace(b"placeholder", b"bad \xff bytes")  # same length: the framing holds
    request = export("cart", [])
    resource = request.resource_logs[0].resource.SerializeToString()
    records = b"".join(_delimited(2, record) for record in (good, bad))
    body = _delimited(1, _delimited(1, resource) + _delimited(2, records))
    response = client.post("/v1/logs", content=body, headers=PROTOBUF)
    assert response.status_code == 200, response.content
    answer = ExportLogsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_log_records == 1
    assert "record 1" in answer.partial_success.error_message
    assert "not valid UTF-8" in answer.partial_success.error_message
    assert (
        'tracer_processor_records_accepted_total{source="otlp"} 1.0' in client.get("/metrics").text
    )
