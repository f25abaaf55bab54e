"""A batch's timestamps as epoch seconds, fast in the common case and precise otherwise.

Shippers send a batch in one format: RFC 3339 in UTC, every string the same length
("2026-03-02T11:59:30.250Z"). Such a batch is parsed as one block of bytes by numpy's
datetime parser, at a few tens of nanoseconds per record; a batch of epoch milliseconds is
one array conversion. Anything else (offsets, mixed forms, garbage) goes value by value
through `datetime.fromisoformat`, which gives each bad value its own error.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Value = str | int | float

_ZULU = ord("Z")
_NAT = np.iinfo(np.int64).min


def epoch_seconds(values: list[Value]) -> tuple[FloatArray, list[str]]:
    """Epoch seconds of each value, and an error text per position ([] when all are fine)."""
    first = values[0]
    if first.__class__ is str:
        parsed = _utc_block(values)
        if parsed is not None:
            return parsed, []
    elif first.__class__ is not bool:
        try:
            numbers = np.array(values, np.float64)
        except (TypeError, ValueError, OverflowError):
            pass
        else:
            if numbers.dtype == np.float64 and bool(np.isfinite(numbers).all()):
                return numbers * 0.001, []
    out = np.empty(len(values), np.float64)
    errors = [""] * len(values)
    for position, value in enumerate(values):
        out[position], errors[position] = one_epoch(value)
    return out, errors


def one_epoch(value: Value) -> tuple[float, str]:
    """One timestamp (RFC 3339 with an offset, or epoch milliseconds); error text or ""."""
    try:
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                return 0.0, (
                    f"timestamp {value[:64]!r} has no UTC offset; use RFC 3339, "
                    "e.g. 2026-01-01T12:00:00Z"
                )
            return parsed.timestamp(), ""
        seconds = float(value) * 0.001
    except (ValueError, OverflowError, OSError):
        return 0.0, f"timestamp {str(value)[:64]!r} is not RFC 3339 or epoch milliseconds"
    if not math.isfinite(seconds):
        return 0.0, "timestamp is not a finite number"
    return seconds, ""


def _utc_block(values: list[Value]) -> FloatArray | None:
    """Equal-length "...Z" strings parsed as one block (None when they are not that)."""
    width = len(values[0])  # type: ignore[arg-type]
    try:
        if width < 2 or len(set(map(len, values))) != 1:  # type: ignore[arg-type]
            return None
        text = bytearray("".join(values).encode("ascii"))  # type: ignore[arg-type]
    except (TypeError, UnicodeEncodeError):
        return None
    chars = np.frombuffer(text, np.uint8).reshape(len(values), width)
    if not bool((chars[:, width - 1] == _ZULU).all()):
        return None
    chars[:, width - 1] = 0  # numpy ignores trailing NULs: "...Z" becomes "..." (UTC)
    try:
        micros = chars.view(f"S{width}").ravel().astype("datetime64[us]").astype(np.int64)
    except (ValueError, OverflowError):
        return None
    if bool((micros == _NAT).any()):
        return None
    return np.asarray(micros * 1e-6, np.float64)
