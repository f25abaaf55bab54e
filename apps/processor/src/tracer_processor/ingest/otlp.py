"""`POST /v1/logs`: OTLP/HTTP log exports (protobuf or JSON) into a `LogBatch`.

Readable by any OpenTelemetry SDK or collector unchanged. Mapping onto Tracer's record:

* service: resource attribute `service.name`; project: `tracer.project`, else
  `service.namespace`, else "default";
* time: `time_unix_nano`, else `observed_time_unix_nano`, else the arrival time;
* error: severity number >= 17 (ERROR, FATAL), or a severity text naming an error, or an
  attribute `http.response.status_code` / `http.status_code` >= 500;
* duration: attribute `duration_ms`, else `http.server.request.duration` (seconds);
* message: the body (non-string bodies as JSON), cut at 64 KiB, decoded for error records only.

Two decoders give the same columns. Protobuf bodies go first through the wire scanner
(`otlp_wire`, a C extension walking the bytes once, over 1M records/s with attributes);
whatever it does not handle exactly like the protobuf runtime (malformed bytes, groups,
unexpected wire types, deep nesting) is decoded by `decode_request` + `to_batch` with the
official `opentelemetry-proto` messages, which also read OTLP/JSON. Invalid UTF-8 differs:
the scanner rejects only the records holding it (partial success), the runtime the export.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from tracer_processor.ingest.batch import (
    BatchRejectedError,
    IngestLimits,
    LogBatch,
    RowMessages,
    check_time_range,
)
from tracer_processor.ingest.otlp_values import (
    ERROR_TEXTS,
    WANTED,
    body_text,
    name_problem,
    read_attributes,
)
from tracer_processor.ingest.otlp_wire import scan_export
from tracer_processor.ingest.text import (
    BAD_TEXT_ERROR,
    clean_name,
    marks_bad_text,
    repair_body,
)

_WANTED_BYTES = tuple(key.encode() for key in WANTED)


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


def decode_export(body: bytes, *, json: bool, now: float, limits: IngestLimits) -> LogBatch:
    """An OTLP export body straight to columns: protobuf through the wire scanner when it
    takes the body, else (and for JSON) through the protobuf runtime. An OTLP/JSON body
    holding invalid UTF-8 or a lone surrogate escape (`\\ud800`) is repaired first, and only
    the records carrying a repaired spot are rejected (partial success), not the whole export."""
    if not json:
        scanned = scan_export(body, now=now, limits=limits)
        if scanned is not None:
            return scanned
    try:
        request = decode_request(body, json=json)
    except BatchRejectedError:
        if not json:
            raise
        repaired = repair_body(body)
        if repaired is body:
            raise
        request = decode_request(repaired, json=True)
        return to_batch(request, now=now, limits=limits, raw=body, marked=True)
    return to_batch(request, now=now, limits=limits, raw=body)


def to_batch(
    request: ExportLogsServiceRequest,
    *,
    now: float,
    limits: IngestLimits,
    raw: bytes | None = None,
    marked: bool = False,
) -> LogBatch:
    """Columns of an export through the protobuf runtime (the reference decoder), with as
    little Python per record as it allows: times and severities in list comprehensions,
    everything else vectorised; record attributes are read only when `raw` (the request
    body) mentions one of the attributes Tracer reads, and bodies only for error records
    (lazily). `marked`: the body was repaired (`text.repair_body`); records holding a
    repair mark are rejected."""
    scan = raw is None or any(key in raw for key in _WANTED_BYTES)
    stamps: list[int] = []
    severities: list[int] = []
    kept: list[LogRecord] = []
    projects: list[str] = []
    services: list[str] = []
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
        bad_name = name_problem(service, project)
        if marked and not bad_name and marks_bad_text(resource_logs.resource.SerializeToString()):
            bad_name = BAD_TEXT_ERROR
        for scope_logs in resource_logs.scope_logs:
            records = list(scope_logs.log_records)  # one wrapper per record, made once
            count = len(records)
            if index + count > limits.max_records:
                raise BatchRejectedError(
                    f"more than {limits.max_records} log records in one request", too_large=True
                )
            if bad_name:
                problems.extend((position, bad_name) for position in range(index, index + count))
                index += count
                continue
            if marked:
                records = _unmarked(records, index, problems)
            stamps.extend([r.time_unix_nano or r.observed_time_unix_nano for r in records])
            severities.extend([r.severity_number for r in records])
            kept.extend(records)
            projects.extend([project] * len(records))
            services.extend([service] * len(records))
            index += count
    timestamps = np.array(stamps, np.float64) / 1e9
    timestamps[timestamps == 0] = now
    severity = np.array(severities, np.int64)
    is_error = severity >= 17
    for row in np.flatnonzero(severity == 0).tolist():
        is_error[row] = kept[row].severity_text.lower() in ERROR_TEXTS
    durations = np.full(len(kept), -1.0)
    if scan:
        _read_attributes(kept, is_error, durations)
    batch = LogBatch(
        timestamps=timestamps,
        projects=projects,
        services=services,
        is_error=is_error,
        durations=durations,
        messages=_Bodies(kept),
        received=index,
    )
    if problems:
        good = sorted(set(range(index)) - {position for position, _ in problems})
        batch.origin = np.array(good, np.intp)
        for position, problem in problems:
            batch.reject(position, problem)
    check_time_range(batch, now=now, limits=limits)
    return batch


def _unmarked(
    records: list[LogRecord], first: int, problems: list[tuple[int, str]]
) -> list[LogRecord]:
    """The records without a repair mark; the others are listed in `problems`."""
    good: list[LogRecord] = []
    for offset, record in enumerate(records):
        if marks_bad_text(record.SerializeToString()):
            problems.append((first + offset, BAD_TEXT_ERROR))
        else:
            good.append(record)
    return good


def _read_attributes(
    records: list[LogRecord], is_error: npt.NDArray[np.bool_], durations: npt.NDArray[np.float64]
) -> None:
    """Status codes (for records not already errors) and durations, from the attributes."""
    for row, record in enumerate(records):
        if record.attributes:
            read_attributes(record, row, is_error, durations)


class _Bodies(RowMessages):
    """Record bodies as text, computed only for the rows read (the error records)."""

    def __init__(self, records: list[LogRecord]) -> None:
        self._records = records

    def __len__(self) -> int:
        return len(self._records)

    def message(self, row: int) -> str:
        return body_text(self._records[row].body)


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
    return b"\x08" + varint(code) + b"\x12" + varint(len(text)) + text


def varint(value: int) -> bytes:
    """A protobuf base-128 varint; a negative value as its 64-bit two's complement."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _attributes(pairs: Any) -> dict[str, AnyValue]:
    return {pair.key: pair.value for pair in pairs if isinstance(pair, KeyValue)}


def _text(value: AnyValue | None) -> str:
    if value is None:
        return ""
    return value.string_value if value.WhichOneof("value") == "string_value" else ""
