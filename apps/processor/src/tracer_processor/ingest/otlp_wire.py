"""OTLP/protobuf export bodies to columns through the wire scanner (`tracer_scan.otlp`, C).

The scanner walks the body once and returns the columns; Python only names the resources,
rejects records, and reads with the protobuf runtime the few records the scanner leaves to it
(a string-valued HTTP status or duration, a body that is not a string: `LogRecord` parsed
from the record's own bytes). Error bodies are decoded lazily, from their span in the body.
Same mapping as the reference decoder (`otlp.to_batch`) except for invalid UTF-8, which
rejects only the records holding it (or its scope's or resource's records), not the export.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from tracer_processor.ingest.batch import (
    BatchRejectedError,
    IngestLimits,
    LogBatch,
    RowMessages,
    check_time_range,
)
from tracer_processor.ingest.otlp_values import (
    MAX_MESSAGE,
    body_text,
    name_problem,
    read_attributes,
)
from tracer_processor.ingest.text import BAD_TEXT_ERROR, clean_message, clean_name
from tracer_scan.otlp import (
    BAD_TEXT,
    BODY_OTHER,
    BODY_TEXT,
    ERROR,
    RESOURCE_COLUMNS,
    SLOW,
    SPAN_COLUMNS,
    scan,
)


def scan_export(body: bytes, *, now: float, limits: IngestLimits) -> LogBatch | None:
    """The export's columns, or None when the scanner leaves the body to the reference
    decoder (malformed, or a wire form it does not handle exactly the same way)."""
    scanned = scan(body, limits.max_records)
    if scanned is None:
        return None
    received, stamp_bytes, flag_bytes, duration_bytes, span_bytes, resource_bytes = scanned
    if received > limits.max_records:
        raise BatchRejectedError(
            f"more than {limits.max_records} log records in one request", too_large=True
        )
    flags = np.frombuffer(flag_bytes, np.uint8)
    problems = [BAD_TEXT_ERROR]  # reason k (> 0) is problems[k - 1]
    reasons = np.zeros(received, np.intp)
    reasons[(flags & BAD_TEXT) != 0] = 1
    projects: list[str] = []
    services: list[str] = []
    resources = np.frombuffer(resource_bytes, np.int64).reshape(-1, RESOURCE_COLUMNS)
    for first, count, *names, bad_text in resources.tolist():
        if bad_text:  # the scanner marked all its records; its names may not decode
            service = project = ""
        else:
            service = clean_name(_text(body, names[0], names[1])) or "unknown_service"
            project = (
                clean_name(_text(body, names[2], names[3]))
                or clean_name(_text(body, names[4], names[5]))
                or "default"
            )
            problem = name_problem(service, project)
            if problem:  # takes precedence over a record's own bad text
                problems.append(problem)
                reasons[first : first + count] = len(problems)
        services.extend([service] * count)
        projects.extend([project] * count)
    durations = np.frombuffer(duration_bytes, np.float64)
    stamps = np.frombuffer(stamp_bytes, np.uint64)
    spans = np.frombuffer(span_bytes, np.int64).reshape(-1, SPAN_COLUMNS)
    rejected = np.flatnonzero(reasons)
    origin = None
    if rejected.size:
        origin = np.flatnonzero(reasons == 0)
        rows = origin.tolist()
        flags, durations, stamps, spans = (
            flags[origin],
            durations[origin],
            stamps[origin],
            spans[origin],
        )
        projects = [projects[row] for row in rows]
        services = [services[row] for row in rows]
    timestamps = stamps.astype(np.float64) / 1e9
    timestamps[timestamps == 0] = now
    is_error = (flags & ERROR) != 0
    durations = durations.copy()
    for row in np.flatnonzero(flags & SLOW).tolist():
        read_attributes(_record(body, spans, row), row, is_error, durations)
    batch = LogBatch(
        timestamps=timestamps,
        projects=projects,
        services=services,
        is_error=is_error,
        durations=durations,
        messages=_Bodies(body, spans, flags),
        received=received,
        origin=origin,
    )
    for position in rejected.tolist():
        batch.reject(position, problems[reasons[position] - 1])
    check_time_range(batch, now=now, limits=limits)
    return batch


def _text(body: bytes, offset: int, length: int) -> str:
    return "" if offset < 0 else body[offset : offset + length].decode()


def _record(body: bytes, spans: npt.NDArray[np.int64], row: int) -> LogRecord:
    start, length = spans[row, 0:2].tolist()
    record: LogRecord = LogRecord.FromString(body[start : start + length])
    return record


class _Bodies(RowMessages):
    """Record bodies as text, decoded from the request body only for the rows read."""

    def __init__(
        self, body: bytes, spans: npt.NDArray[np.int64], flags: npt.NDArray[np.uint8]
    ) -> None:
        self._body = body
        self._spans = spans
        self._flags = flags

    def __len__(self) -> int:
        return len(self._flags)

    def message(self, row: int) -> str:
        flag = int(self._flags[row])
        if flag & BODY_TEXT:
            start, length = self._spans[row, 2:4].tolist()
            if length <= 4 * MAX_MESSAGE:
                text = self._body[start : start + length].decode()
            else:  # the first MAX_MESSAGE characters fit in 4 bytes each; the cut may split one
                text = self._body[start : start + 4 * MAX_MESSAGE].decode("utf-8", "ignore")
            return clean_message(text[:MAX_MESSAGE])
        if flag & BODY_OTHER:
            return body_text(_record(self._body, self._spans, row).body)
        return ""
