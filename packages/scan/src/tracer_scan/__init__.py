"""Tracer's ingest scanners, in C: `otlp` turns OTLP/protobuf export bodies into columns,
`records` turns decoded JSON records into columns. Each is optional: where no C compiler was
found at install time its `BUILT` is False and the processor uses the pure-Python path."""

from tracer_scan import otlp, records

BUILT = otlp.BUILT and records.BUILT

__all__ = ["BUILT", "otlp", "records"]
