"""The decoded form of one ingest request: valid records column by column, plus the errors.

Both decoders (JSON/NDJSON in `records`, OTLP in `otlp`) produce a `LogBatch`; the aggregator
consumes its columns with numpy, so no per-record objects survive decoding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, overload

import numpy as np
import numpy.typing as npt

MAX_ERRORS_LISTED = 100  # a response lists at most this many record errors


@dataclass(frozen=True, slots=True)
class RecordError:
    index: int
    error: str


@dataclass(frozen=True, slots=True)
class IngestLimits:
    max_records: int = 100_000
    max_event_age_seconds: float = 7 * 86_400
    max_future_seconds: float = 30.0


class BatchRejectedError(Exception):
    """The request as a whole cannot be read (answered 400, or 413 when `too_large`)."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large

    def __reduce__(self) -> tuple[Any, ...]:  # keeps `too_large` across processes
        return (_rejected, (str(self), self.too_large))


def _rejected(message: str, too_large: bool) -> BatchRejectedError:
    return BatchRejectedError(message, too_large=too_large)


@dataclass(slots=True)
class LogBatch:
    """Valid records of one request. `durations` is -1.0 where a record had none."""

    timestamps: npt.NDArray[np.float64]  # epoch seconds
    projects: list[str]
    services: list[str]
    is_error: npt.NDArray[np.bool_]
    durations: npt.NDArray[np.float64]
    messages: Sequence[str]  # read only for error rows: may be a lazy view
    received: int = 0  # records in the request, good and bad
    origin: npt.NDArray[np.intp] | None = None  # index in the request of each row (None: same)
    errors: list[RecordError] = field(default_factory=list)
    rejected: int = 0  # may exceed len(errors), which is capped
    sender: str | None = None  # the ingest key that sent it (None: keys are off)

    @property
    def size(self) -> int:
        return len(self.services)

    def index_of(self, row: int) -> int:
        return row if self.origin is None else int(self.origin[row])

    def reject(self, index: int, message: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS_LISTED:
            self.errors.append(RecordError(index, message))

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        """Drop the records where `mask` is False (already reported through `reject`)."""
        where = np.flatnonzero(mask)
        rows = where.tolist()
        self.origin = where if self.origin is None else self.origin[where]
        self.timestamps = self.timestamps[where]
        self.is_error = self.is_error[where]
        self.durations = self.durations[where]
        self.projects = [self.projects[i] for i in rows]
        self.services = [self.services[i] for i in rows]
        self.messages = [self.messages[i] for i in rows]


class RowMessages(Sequence[str]):
    """Messages computed per row on demand (`message(row)`): only error rows are ever read."""

    __slots__ = ()

    def message(self, row: int) -> str:
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self.message(row) for row in range(*index.indices(len(self)))]
        return self.message(index + len(self) if index < 0 else index)


class PackedMessages(RowMessages):
    """Messages as one string and the offsets of each row's end: one object to send between
    processes instead of one per record."""

    __slots__ = ("_ends", "_text")

    def __init__(self, messages: Sequence[str], rows: npt.NDArray[np.bool_]) -> None:
        """`rows`: which messages to keep (the others read as "")."""
        kept = [messages[row] if wanted else "" for row, wanted in enumerate(rows.tolist())]
        self._text = "".join(kept)
        self._ends = np.cumsum([len(message) for message in kept], dtype=np.int64)

    def __len__(self) -> int:
        return len(self._ends)

    def message(self, row: int) -> str:
        start = int(self._ends[row - 1]) if row > 0 else 0
        return self._text[start : int(self._ends[row])]


def portable(batch: LogBatch) -> LogBatch:
    """`batch` cheap to pickle: each distinct name once, only error rows' messages (the only
    ones ever read), packed."""
    names: dict[str, str] = {}
    batch.projects = [names.setdefault(name, name) for name in batch.projects]
    batch.services = [names.setdefault(name, name) for name in batch.services]
    batch.messages = PackedMessages(batch.messages, batch.is_error)
    return batch


def empty_batch(received: int = 0) -> LogBatch:
    return LogBatch(
        timestamps=np.empty(0, np.float64),
        projects=[],
        services=[],
        is_error=np.empty(0, np.bool_),
        durations=np.empty(0, np.float64),
        messages=[],
        received=received,
    )


def _describe(epoch_seconds: float) -> str | None:
    if not math.isfinite(epoch_seconds) or abs(epoch_seconds) > 253_402_300_799:
        return None
    when = datetime.fromtimestamp(epoch_seconds, UTC)
    return when.isoformat().replace("+00:00", "Z")


def check_time_range(batch: LogBatch, *, now: float, limits: IngestLimits) -> None:
    """Reject records too old or too far ahead of the processor clock (vectorised).

    Too old protects the per-service state from decades of empty buckets (a common cause:
    epoch seconds sent where milliseconds are expected); too far ahead protects a live
    service's watermark from one client with a wrong clock.
    """
    ts = batch.timestamps
    oldest = now - limits.max_event_age_seconds
    newest = now + limits.max_future_seconds
    good = (ts >= oldest) & (ts <= newest)
    if bool(good.all()):
        return
    for position in np.flatnonzero(~good):
        value = float(ts[position])
        shown = _describe(value)
        if shown is None:
            reason = "timestamp is outside years 1-9999 (epoch timestamps are milliseconds)"
        elif value < oldest:
            reason = (
                f"timestamp {shown} is more than "
                f"{limits.max_event_age_seconds:g} s old (epoch timestamps are milliseconds)"
            )
        else:
            reason = (
                f"timestamp {shown} is more than {limits.max_future_seconds:g} s "
                "ahead of the processor clock; check the sender's clock"
            )
        batch.reject(batch.index_of(int(position)), reason)
    batch.keep(good)
