"""OTLP records get the same edge cleaning as JSON ones."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from tracer_processor.ingest.batch import BatchRejectedError, IngestLimits
from tracer_processor.ingest.otlp import decode_request, to_batch

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
