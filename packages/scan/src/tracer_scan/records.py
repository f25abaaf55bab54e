"""Columns of decoded JSON log records (`records.LogLine` structs) in one C pass.

`columns(records, type, error_levels)` returns None when the C extension was not built (the
caller then uses its Python comprehensions), else `(stamps, is_error, durations, projects,
services, slow, plain)`: float64 epoch seconds (NaN where the caller must parse the value
itself; `slow` counts them), one 0/1 byte per record, float64 milliseconds or -1, the two
name columns, and whether every name is non-empty printable ASCII (no cleaning needed). The
byte columns are bytearrays, so `numpy.frombuffer` gives writable arrays.
"""

from __future__ import annotations

from tracer_scan.extension import load

Columns = tuple[bytearray, bytearray, bytearray, list[str], list[str], int, bool]


_BUILDER = load("_records")
BUILT = _BUILDER is not None


def columns(records: list[object], type_: type, error_levels: frozenset[str]) -> Columns | None:
    if _BUILDER is None:
        return None
    result: Columns = _BUILDER.columns(records, type_, error_levels)
    return result


__all__ = ["BUILT", "columns"]
