"""The columnar OTLP decoder: the body-based shortcut for attributes changes nothing, and
only the bodies of error records are ever turned into text."""

from __future__ import annotations

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tracer_processor.ingest.batch import IngestLimits
from tracer_processor.ingest.otlp import decode_request, to_batch

NOW = 1_780_000_000.0


def _export(*, with_attributes: bool) -> bytes:
    request = ExportLogsServiceRequest()
    resource = request.resource_logs.add()
    resource.resource.attributes.add(key="service.name", value=AnyValue(string_value="api"))
    scope = resource.scope_logs.add()
    for index in range(12):
        record = scope.log_records.add()
        record.time_unix_nano = int((NOW - 5 + index / 10) * 1e9) if index != 3 else 0
        record.severity_number = (9, 17, 0, 13)[index % 4]
        record.severity_text = "error" if index == 2 else ""
        record.body.string_value = f"line {index}"
        record.attributes.add(key="code.function", value=AnyValue(string_value="handle"))
        if with_attributes and index % 3 == 0:
            record.attributes.add(
                key="http.response.status_code", value=AnyValue(int_value=503 if index else 200)
            )
            record.attributes.add(key="duration_ms", value=AnyValue(double_value=index * 1.5))
    return bytes(request.SerializeToString())


def test_the_body_shortcut_reads_the_same_columns_as_a_full_scan() -> None:
    for with_attributes in (True, False):
        body = _export(with_attributes=with_attributes)
        limits = IngestLimits()
        fast = to_batch(decode_request(body, json=False), now=NOW, limits=limits, raw=body)
        full = to_batch(decode_request(body, json=False), now=NOW, limits=limits)
        assert fast.is_error.tolist() == full.is_error.tolist()
        assert fast.durations.tolist() == full.durations.tolist()
        assert fast.timestamps.tolist() == full.timestamps.tolist()
    assert fast.timestamps[3] == NOW  # no time at all: the arrival time
    assert [full.messages[i] for i in range(12) if full.is_error[i]] == [
        "line 1",
        "line 2",
        "line 5",
        "line 9",
    ]


def test_status_codes_and_durations_come_from_the_attributes() -> None:
    body = _export(with_attributes=True)
    batch = to_batch(decode_request(body, json=False), now=NOW, limits=IngestLimits(), raw=body)
    assert batch.is_error.tolist()[:10] == [
        False, True, True, True, False, True, True, False, False, True,
    ]  # fmt: skip
    assert batch.durations.tolist()[:4] == [0.0, -1.0, -1.0, 4.5]
