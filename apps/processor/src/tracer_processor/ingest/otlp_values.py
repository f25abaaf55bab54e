"""How the values of one OTLP log record map onto Tracer's record: the attributes read
(HTTP status, duration), the message, name limits. Shared by both OTLP/protobuf decoders
(`otlp` with the protobuf runtime, `otlp_wire` with the wire scanner)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import orjson
from google.protobuf import json_format
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from tracer_processor.ingest.text import clean_message

MAX_MESSAGE = 65_536
MAX_NAME = 200
ERROR_TEXTS = frozenset({"error", "err", "fatal", "critical", "crit", "alert", "emergency"})
STATUS_KEYS = ("http.response.status_code", "http.status_code")
WANTED = frozenset((*STATUS_KEYS, "duration_ms", "http.server.request.duration"))


def read_attributes(
    record: LogRecord,
    row: int,
    is_error: npt.NDArray[np.bool_],
    durations: npt.NDArray[np.float64],
) -> None:
    """The status code (when the row is not already an error) and duration of one record."""
    found = {pair.key: pair.value for pair in record.attributes if pair.key in WANTED}
    if not found:
        return
    if not is_error[row]:
        for key in STATUS_KEYS:
            status = _number(found.get(key))
            if status is not None:
                is_error[row] = 500 <= status <= 999
                break
    durations[row] = _duration(found)


def name_problem(service: str, project: str) -> str:
    if len(service) > MAX_NAME:
        return f"service.name is longer than {MAX_NAME} characters"
    if len(project) > MAX_NAME:
        return f"the project name is longer than {MAX_NAME} characters"
    return ""


def body_text(body: AnyValue) -> str:
    kind = body.WhichOneof("value")
    if kind == "string_value":
        return clean_message(body.string_value[:MAX_MESSAGE])
    if kind is None:
        return ""
    plain = json_format.MessageToDict(body)
    return clean_message(orjson.dumps(plain).decode()[:MAX_MESSAGE])


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


def _duration(attributes: dict[str, AnyValue]) -> float:
    value = _number(attributes.get("duration_ms"))
    if value is None:
        seconds = _number(attributes.get("http.server.request.duration"))
        value = None if seconds is None else seconds * 1000.0
    if value is None or not 0.0 <= value <= 1e12:  # also rules out NaN and inf
        return -1.0
    return value
