"""`POST /v1/logs`: OTLP/HTTP log exports (protobuf or JSON) into a `LogBatch`.

Decoded with the official `opentelemetry-proto` messages, so any OpenTelemetry SDK or
collector exports to Tracer unchanged. Mapping onto Tracer's record:

* service: resource attribute `service.name`; project: `tracer.project`, else
  `service.namespace`, else "default";
* time: `time_unix_nano`, else `observed_time_unix_nano`, else the arrival time;
* error: severity number >= 17 (ERROR, FATAL), or a severity text naming an error, or an
  attribute `http.response.status_code` / `http.status_code` >= 500;
* duration: attribute `duration_ms`, else `http.server.request.duration` (seconds);
* message: the body (non-string bodies as JSON), cut at 64 KiB.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tracer_processor.ingest.batch import (
    BatchRejectedError,
    IngestLimits,
    LogBatch,
    check_time_range,
)
from tracer_processor.ingest.text import clean_message, clean_name

MAX_MESSAGE = 65_536
MAX_NAME = 200
_ERROR_TEXTS = frozenset({"error", "err", "fatal", "critical", "crit", "alert", "emergency"})
_STATUS_KEYS = ("http.response.status_code", "http.status_code")


def decode_request(body: bytes, *, json: bool) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    try:
        if json:
            json_format.Parse(body, request, ignore_unknown_fields=True)
        else:
            request.ParseFromString(body)
    except RecursionError:
        raise BatchRejectedError("the OTLP message is nested too deeply") from None
    except (DecodeError, json_format.ParseError, UnicodeError, ValueError):
        kind = "OTLP/JSON" if json else "OTLP protobuf"  # the parser's words quote the input
        raise BatchRejectedError(f"the body is not a valid {kind} logs export") from None
    return request


def to_batch(request: ExportLogsServiceRequest, *, now: float, limits: IngestLimits) -> LogBatch:
    timestamps: list[float] = []
    projects: list[str] = []
    services: list[str] = []
    errors: list[bool] = []
    durations: list[float] = []
    messages: list[str] = []
    problems: list[tuple[int, str]] = []
    index = 0
    for resource_logs in request.resource_logs:
        resource = _attributes(resource_logs.resource.attributes)
        service = clean_name(_text(resource.get("service.name"))) or "unknown_service"
        project = (
            clean_name(_text(resource.get("tracer.project")))
            or clean_name(_text(resource.get("service.namespace")))
            or "default"
        )
        bad_name = _name_problem(service, project)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                if index >= limits.max_records:
                    raise BatchRejectedError(
                        f"more than {limits.max_records} log records in one request",
                        too_large=True,
                    )
                if bad_name:
                    problems.append((index, bad_name))
                    index += 1
                    continue
                attributes = _attributes(record.attributes)
                nanos = record.time_unix_nano or record.observed_time_unix_nano
                timestamps.append(nanos / 1e9 if nanos else now)
                projects.append(project)
                services.append(service)
                errors.append(_is_error(record.severity_number, record.severity_text, attributes))
                durations.append(_duration(attributes))
                messages.append(_message(record.body))
                index += 1
    batch = LogBatch(
        timestamps=np.array(timestamps, np.float64),
        projects=projects,
        services=services,
        is_error=np.array(errors, np.bool_),
        durations=np.array(durations, np.float64),
        messages=messages,
        received=index,
    )
    if problems:
        good = sorted(set(range(index)) - {position for position, _ in problems})
        batch.origin = np.array(good, np.intp)
        for position, problem in problems:
            batch.reject(position, problem)
    check_time_range(batch, now=now, limits=limits)
    return batch


def encode_response(rejected: int, message: str, *, json: bool) -> bytes:
    response = ExportLogsServiceResponse()
    if rejected:
        response.partial_success.rejected_log_records = rejected
        response.partial_success.error_message = message[:2000]
    if json:
        return str(json_format.MessageToJson(response, indent=None)).encode()
    return bytes(response.SerializeToString())


def encode_status(code: int, message: str) -> bytes:
    """A `google.rpc.Status` message (the OTLP error body), encoded by hand: two fields."""
    text = message.encode()[:4000]
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _name_problem(service: str, project: str) -> str:
    if len(service) > MAX_NAME:
        return f"service.name is longer than {MAX_NAME} characters"
    if len(project) > MAX_NAME:
        return f"the project name is longer than {MAX_NAME} characters"
    return ""


def _attributes(pairs: Any) -> dict[str, AnyValue]:
    return {pair.key: pair.value for pair in pairs if isinstance(pair, KeyValue)}


def _text(value: AnyValue | None) -> str:
    if value is None:
        return ""
    return value.string_value if value.WhichOneof("value") == "string_value" else ""


def _number(value: AnyValue | None) -> float | None:
    if value is None:
        return None
    kind = value.WhichOneof("value")
    if kind == "int_value":
        return float(value.int_value)
    if kind == "double_value":
        return float(value.double_value)
    if kind == "string_value":
        try:
            return float(value.string_value)
        except ValueError:
            return None
    return None


def _is_error(severity: int, text: str, attributes: dict[str, AnyValue]) -> bool:
    if severity >= 17 or (severity == 0 and text.lower() in _ERROR_TEXTS):
        return True
    for key in _STATUS_KEYS:
        status = _number(attributes.get(key))
        if status is not None:
            return 500 <= status <= 999
    return False


def _duration(attributes: dict[str, AnyValue]) -> float:
    value = _number(attributes.get("duration_ms"))
    if value is None:
        seconds = _number(attributes.get("http.server.request.duration"))
        value = None if seconds is None else seconds * 1000.0
    if value is None or not 0.0 <= value <= 1e12:  # also rules out NaN and inf
        return -1.0
    return value


def _message(body: AnyValue) -> str:
    kind = body.WhichOneof("value")
    if kind == "string_value":
        return clean_message(body.string_value[:MAX_MESSAGE])
    if kind is None:
        return ""
    plain = json_format.MessageToDict(body)
    return clean_message(orjson.dumps(plain).decode()[:MAX_MESSAGE])
