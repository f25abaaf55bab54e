"""One bounds-checked pass over an OTLP/protobuf ExportLogsServiceRequest into columns.

`scan(body, max_records)` returns None when the body holds anything it does not handle
exactly like the reference protobuf decoder (the caller then uses that decoder), else
`(received, stamps, flags, durations, spans, resources)`: columns in native byte order, as
bytes for `numpy.frombuffer` (uint64 nanoseconds, one flag byte, float64 milliseconds or -1,
int64 spans of SPAN_COLUMNS per record, int64 rows of RESOURCE_COLUMNS per resource). Only
the first `max_records` records are kept; `received` counts them all.

The C extension is optional: installed where no C compiler was found, `BUILT` is False and
`scan` hands every body to the reference decoder (slower, same results but for invalid
UTF-8, which that decoder refuses for the whole export).
"""

from __future__ import annotations

from tracer_scan.extension import load

ScanResult = tuple[int, bytes, bytes, bytes, bytes, bytes]


_SCANNER = load("_otlp")
BUILT = _SCANNER is not None


def _constant(name: str) -> int:
    return int(getattr(_SCANNER, name)) if _SCANNER is not None else 0


ERROR = _constant("ERROR")
BAD_TEXT = _constant("BAD_TEXT")
SLOW = _constant("SLOW")
BODY_TEXT = _constant("BODY_TEXT")
BODY_OTHER = _constant("BODY_OTHER")
SPAN_COLUMNS = _constant("SPAN_COLUMNS")
RESOURCE_COLUMNS = _constant("RESOURCE_COLUMNS")


def scan(body: bytes | bytearray | memoryview, max_records: int) -> ScanResult | None:
    if _SCANNER is None:
        return None
    result: ScanResult | None = _SCANNER.scan(body, max_records)
    return result


__all__ = [
    "BAD_TEXT",
    "BODY_OTHER",
    "BODY_TEXT",
    "BUILT",
    "ERROR",
    "RESOURCE_COLUMNS",
    "SLOW",
    "SPAN_COLUMNS",
    "scan",
]
