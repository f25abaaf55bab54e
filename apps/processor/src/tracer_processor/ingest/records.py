"""Decoding `POST /api/logs` bodies: a JSON array, `{"logs": [...]}`, or NDJSON.

A well-formed batch is decoded in one msgspec pass straight into typed structs (no dicts,
no pydantic), then turned into columns with a handful of list comprehensions. Only when that
pass fails does the slow path decode record by record, so good records of a batch are kept
and each bad one gets its own error. Fields the detector does not use (`trace_id`,
`span_id`, `attributes`) are skipped without being built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal, TypeVar, get_args

import msgspec
import numpy as np
import numpy.typing as npt

from tracer_processor.ingest.batch import (
    BatchRejectedError,
    IngestLimits,
    LogBatch,
    RowMessages,
    check_time_range,
    empty_batch,
)
from tracer_processor.ingest.text import (
    BAD_TEXT_ERROR,
    clean_message,
    clean_names,
    marks_bad_text,
    repair_body,
)
from tracer_processor.ingest.timestamps import epoch_seconds, one_epoch
from tracer_scan.records import Columns as RecordColumns
from tracer_scan.records import columns as record_columns

MAX_DURATION_MS = 1e12  # about 31 years; also rules out inf

Level = Literal[
    "trace", "debug", "info", "warn", "warning", "error", "fatal", "critical",
    "TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "CRITICAL",
    "Trace", "Debug", "Info", "Warn", "Warning", "Error", "Fatal", "Critical",
]  # fmt: skip
_IS_ERROR_LEVEL: dict[str, bool] = {
    name: name.lower() in ("error", "fatal", "critical") for name in get_args(Level)
}
_ERROR_LEVELS = frozenset(name for name, is_error in _IS_ERROR_LEVEL.items() if is_error)

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Timestamp = str | int | float  # parsed per batch by `timestamps.epoch_seconds`


class LogLine(msgspec.Struct, gc=False):
    """One record as the contract defines it (docs/architecture.md)."""

    timestamp: Timestamp  # RFC 3339 with an offset, or epoch milliseconds
    service: Name
    level: Level
    message: Annotated[str, msgspec.Meta(max_length=65_536)]
    project: Name = "default"
    status_code: Annotated[int, msgspec.Meta(ge=0, le=999)] | None = None
    duration_ms: Annotated[float, msgspec.Meta(ge=0, le=MAX_DURATION_MS)] | None = None


class _Messages(RowMessages):
    """The messages of decoded records, read on demand: only error rows are ever read."""

    __slots__ = ("_lines",)

    def __init__(self, lines: list[LogLine]) -> None:
        self._lines = lines

    def __len__(self) -> int:
        return len(self._lines)

    def message(self, row: int) -> str:
        return clean_message(self._lines[row].message)


class _Envelope(msgspec.Struct, gc=False):
    logs: list[LogLine]


class _RawEnvelope(msgspec.Struct):
    logs: list[msgspec.Raw]


_ARRAY = msgspec.json.Decoder(list[LogLine])
_ENVELOPE = msgspec.json.Decoder(_Envelope)
_RAW_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_RAW_ENVELOPE = msgspec.json.Decoder(_RawEnvelope)
_ONE = msgspec.json.Decoder(LogLine)
_DECODE_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, RecursionError, UnicodeError)
T = TypeVar("T")


def parse_logs(body: bytes, *, ndjson: bool, now: float, limits: IngestLimits) -> LogBatch:
    """Decode a request body; raises `BatchRejectedError` when nothing in it can be read."""
    first = _first_byte(body)
    if first is None:
        raise BatchRejectedError('the body is empty; send a JSON array, {"logs": [...]} or NDJSON')
    if ndjson:
        return _parse_ndjson(body, now, limits)
    if first == b"["[0]:
        fast = _try(_ARRAY, body)
        if fast is not None:
            return _columns(_capped(fast, limits), now, limits)
        repaired = repair_body(body)
        return _parse_raw(_split_array(repaired), now, limits, marked=repaired is not body)
    if first == b"{"[0]:
        envelope = _try(_ENVELOPE, body)
        if envelope is not None:
            return _columns(_capped(envelope.logs, limits), now, limits)
        repaired = repair_body(body)
        marked = repaired is not body
        raws = _split_envelope(repaired)
        if raws is not None:
            return _parse_raw(raws, now, limits, marked=marked)
        if b"\n" not in repaired.strip():  # one line: a bare record, or broken JSON
            _require_json(repaired)
            return _parse_raw([repaired], now, limits, marked=marked)
        return _parse_ndjson(body, now, limits)
    raise BatchRejectedError(
        "the body is not a JSON array, an object with `logs`, or NDJSON "
        "(it must start with '[' or '{')"
    )


def _first_byte(body: bytes) -> int | None:
    for index in range(min(len(body), 4096)):
        if body[index] not in b" \t\r\n":
            return body[index]
    stripped = body.lstrip()
    return stripped[0] if stripped else None


def _try(decoder: msgspec.json.Decoder[T], body: bytes) -> T | None:
    try:
        return decoder.decode(body)
    except _DECODE_ERRORS:
        return None


def _capped(items: list[T], limits: IngestLimits) -> list[T]:
    _check_count(len(items), limits)
    return items


def _check_count(count: int, limits: IngestLimits) -> None:
    if count > limits.max_records:
        raise BatchRejectedError(
            f"{count} records in one request; the limit is {limits.max_records}",
            too_large=True,
        )


def _split_array(body: bytes) -> list[msgspec.Raw]:
    try:
        return _RAW_ARRAY.decode(body)
    except RecursionError:
        raise BatchRejectedError("the JSON is nested too deeply") from None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BatchRejectedError(f"the body is not valid JSON: {exc}") from None


def _require_json(body: bytes) -> None:
    try:
        msgspec.json.decode(body)
    except RecursionError:
        raise BatchRejectedError("the JSON is nested too deeply") from None
    except msgspec.DecodeError as exc:
        raise BatchRejectedError(f"the body is not valid JSON: {exc}") from None


def _split_envelope(body: bytes) -> list[msgspec.Raw] | None:
    """The records of `{"logs": [...]}`; None when the body is not one such object."""
    try:
        return _RAW_ENVELOPE.decode(body).logs
    except RecursionError:
        raise BatchRejectedError("the JSON is nested too deeply") from None
    except msgspec.ValidationError as exc:
        if "$.logs" in str(exc):
            raise BatchRejectedError(f"`logs` must be an array of records: {exc}") from None
        return None
    except msgspec.DecodeError:
        return None


def _parse_ndjson(body: bytes, now: float, limits: IngestLimits) -> LogBatch:
    lines = [line for line in body.split(b"\n") if line and not line.isspace()]
    _check_count(len(lines), limits)
    fast = _try(_ARRAY, b"[" + b",".join(lines) + b"]")
    if fast is not None and len(fast) == len(lines):
        return _columns(fast, now, limits)
    repaired = [repair_body(line) for line in lines]
    marked = any(after is not before for after, before in zip(repaired, lines, strict=True))
    return _parse_raw(repaired, now, limits, marked=marked)


def _parse_raw(
    raws: list[msgspec.Raw] | list[bytes], now: float, limits: IngestLimits, *, marked: bool
) -> LogBatch:
    """The slow path: each record decoded alone, so one bad record costs only itself.
    `marked`: the body was repaired, and records carrying a repair mark are refused."""
    _check_count(len(raws), limits)
    good: list[LogLine] = []
    indices: list[int] = []
    errors: list[tuple[int, str]] = []
    for index, raw in enumerate(raws):
        if marked and marks_bad_text(bytes(raw)):
            errors.append((index, BAD_TEXT_ERROR))
            continue
        try:
            good.append(_ONE.decode(raw))
            indices.append(index)
        except RecursionError:
            errors.append((index, "the record is nested too deeply"))
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            errors.append((index, _without_input(str(exc))))
    batch = _columns(good, now, limits, indices=indices, received=len(raws))
    for index, message in errors:
        batch.reject(index, message)
    batch.errors.sort(key=lambda error: error.index)
    return batch


def _columns(
    lines: list[LogLine],
    now: float,
    limits: IngestLimits,
    *,
    indices: list[int] | None = None,
    received: int | None = None,
) -> LogBatch:
    """Columns of the decoded records; `indices` are their positions in the request."""
    if not lines:
        return empty_batch(received or 0)
    built = record_columns(lines, LogLine, _ERROR_LEVELS)  # type: ignore[arg-type]
    read = _read_in_python(lines) if built is None else _read_in_c(lines, built)
    n = len(lines)
    batch = LogBatch(
        timestamps=read.seconds,
        projects=read.projects,
        services=read.services,
        is_error=read.is_error,
        durations=read.durations,
        messages=_Messages(lines),
        received=n if received is None else received,
        origin=None if indices is None else np.array(indices, np.intp),
    )
    if read.time_errors:
        keep = np.array([not error for error in read.time_errors], np.bool_)
        for row in np.flatnonzero(~keep).tolist():
            batch.reject(batch.index_of(row), read.time_errors[row])
        batch.keep(keep)
    if not read.plain:
        _reject_blank_names(batch)
    check_time_range(batch, now=now, limits=limits)
    return batch


@dataclass(slots=True)
class _Read:
    seconds: npt.NDArray[np.float64]
    time_errors: list[str]  # one per row, or [] when every timestamp was read
    is_error: npt.NDArray[np.bool_]
    durations: npt.NDArray[np.float64]  # -1.0 where missing
    projects: list[str]
    services: list[str]
    plain: bool  # every name was printable ASCII already (nothing cleaned, none blank)


def _read_in_c(lines: list[LogLine], built: RecordColumns) -> _Read:
    stamps, errors, durations, projects, services, slow, plain = built
    seconds = np.frombuffer(stamps, np.float64)
    time_errors: list[str] = []
    if slow:  # forms the C pass leaves to `one_epoch`, which also words each error
        time_errors = [""] * len(lines)
        for row in np.flatnonzero(np.isnan(seconds)).tolist():
            seconds[row], time_errors[row] = one_epoch(lines[row].timestamp)
        if not any(time_errors):
            time_errors = []
    if not plain:
        projects, services = clean_names(projects), clean_names(services)
    return _Read(
        seconds=seconds,
        time_errors=time_errors,
        is_error=np.frombuffer(errors, np.bool_),
        durations=np.frombuffer(durations, np.float64),
        projects=projects,
        services=services,
        plain=plain,
    )


def _read_in_python(lines: list[LogLine]) -> _Read:
    """The same columns as the C pass, where its extension was not built."""
    n = len(lines)
    seconds, time_errors = epoch_seconds([line.timestamp for line in lines])
    is_error = np.fromiter(
        map(_IS_ERROR_LEVEL.__getitem__, [line.level for line in lines]), np.bool_, n
    )
    # A missing status becomes NaN, which is never >= 500.
    is_error |= np.array([line.status_code for line in lines], np.float64) >= 500
    durations = np.array([line.duration_ms for line in lines], np.float64)
    return _Read(
        seconds=seconds,
        time_errors=time_errors,
        is_error=is_error,
        durations=np.where(np.isnan(durations), -1.0, durations),
        projects=clean_names([line.project for line in lines]),
        services=clean_names([line.service for line in lines]),
        plain=False,
    )


_ECHOED_VALUE = re.compile(r"Invalid enum value (.*?) - at")


def _short_value(match: re.Match[str]) -> str:
    value = match.group(1)
    return match.group() if len(value) <= 40 else "Invalid enum value - at"


def _without_input(message: str) -> str:
    """A decoder error quoting at most a short offending value, escaped (error bodies
    never echo input back)."""
    return clean_message(_ECHOED_VALUE.sub(_short_value, message))[:300]


def _reject_blank_names(batch: LogBatch) -> None:
    """Records whose service or project had nothing printable left after cleaning."""
    if "" not in batch.services and "" not in batch.projects:  # the usual case, scanned in C
        return
    blank = [
        not service or not project
        for service, project in zip(batch.services, batch.projects, strict=True)
    ]
    keep = np.array([not b for b in blank], np.bool_)
    for row in np.flatnonzero(~keep).tolist():
        batch.reject(batch.index_of(row), "service and project need printable characters")
    batch.keep(keep)
