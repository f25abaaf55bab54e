"""OTLP records get the same edge cleaning as JSON ones."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from tracer_processor.ingest.batch import BatchRejectedError, IngestLimits
from tracer_processor.ingest.otlp import decode_export, decode_request, to_batch

NOW = 1_772_452_800.0


def test_otlp_names_and_messages_are_cleaned() -> None:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    attribute = resource_logs.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", "pay\u001b[2Jments\u202e"
    record = resource_logs.scope_logs.add().log_records.add()
    record.time_unix_nano = int((NOW - 5) * 1e9)
    record.severity_number = 17
    record.body.string_value = "failed\u0000 \u202eevil"
    batch = to_batch(
        decode_request(request.SerializeToString(), json=False), now=NOW, limits=IngestLimits()
    )
    assert batch.services == ["pay[2Jments"]
    assert list(batch.messages) == ["failed\\u0000 \\u202eevil"]


def test_otlp_parse_errors_do_not_quote_the_body() -> None:
    secret = b'{"resourceLogs": [{"resource": {"attributes": "s3cr3t-token-value"}}]}'
    with pytest.raises(BatchRejectedError) as refused:
        decode_request(secret, json=True)
    assert "s3cr3t" not in str(refused.value)


def test_a_lone_surrogate_in_otlp_json_rejects_only_its_record() -> None:
    def record(body: str) -> str:
        stamp = int((NOW - 5) * 1e9)
        value = f'{{"stringValue": "{body}"}}'
        return f'{{"timeUnixNano": "{stamp}", "severityNumber": 17, "body": {value}}}'

    def resource(service: str, bodies: list[str]) -> str:
        records = ", ".join(record(body) for body in bodies)
        name = f'{{"key": "service.name", "value": {{"stringValue": "{service}"}}}}'
        scopes = f'[{{"logRecords": [{records}]}}]'
        return f'{{"resource": {{"attributes": [{name}]}}, "scopeLogs": {scopes}}}'

    export = (
        '{"resourceLogs": ['
        + resource("pay", ["ok", "bad \\ud800 here", "bad byte \xff"])
        + ", "
        + resource("bad\\udc00name", ["x"])
        + ", "
        + resource("cart", ["pair \\ud83d\\ude00 kept"])
        + "]}"
    ).encode("latin-1")
    batch = decode_export(export, json=True, now=NOW, limits=IngestLimits())
    assert batch.services == ["pay", "cart"]
    assert list(batch.messages) == ["ok", "pair \U0001f600 kept"]
    assert [error.index for error in batch.errors] == [1, 2, 3]
    assert all("not valid UTF-8" in error.error for error in batch.errors)
