"""One bounds-checked pass over an OTLP/protobuf ExportLogsServiceRequest into columns.

`scan(body, max_records)` returns None when the body holds anything it does not handle
exactly like the reference protobuf decoder (the caller then uses that decoder), else
`(received, stamps, flags, durations, spans, resources)`: columns in native byte order, as bytes for
`numpy.frombuffer` (uint64 nanoseconds, one flag byte, float64 milliseconds or -1, int64
spans of SPAN_COLUMNS per record, int64 rows of RESOURCE_COLUMNS per resource). Only the
first `max_records` records are kept; `received` counts them all.
"""

from tracer_otlp_scan._scan import (
    BAD_TEXT,
    BODY_OTHER,
    BODY_TEXT,
    ERROR,
    RESOURCE_COLUMNS,
    SLOW,
    SPAN_COLUMNS,
    scan,
)

__all__ = [
    "BAD_TEXT",
    "BODY_OTHER",
    "BODY_TEXT",
    "ERROR",
    "RESOURCE_COLUMNS",
    "SLOW",
    "SPAN_COLUMNS",
    "scan",
]
