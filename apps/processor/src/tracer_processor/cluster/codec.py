"""The batch message: records of one partition, column by column, from one or more requests.

A message is msgpack (msgspec) of segments - one per request that fed it - each a few raw
little-endian arrays plus the distinct service keys, so encoding and decoding cost a handful
of copies, not per-record objects. Only error records carry their text, cut to what the
error samples ever read: the aggregator reads the text of error records alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import numpy as np
import numpy.typing as npt

from tracer_processor.buckets.templates import MAX_MESSAGE_CHARS
from tracer_processor.cluster.partitioning import PartitionSlice, SplitBatch
from tracer_processor.ingest.batch import LogBatch

FORMAT_VERSION = 2
MAX_SEGMENT_ROWS = 1024  # keeps a message under NATS's default 1 MiB payload limit
ERROR_TEXT_CHARS = MAX_MESSAGE_CHARS * 2  # what the error samples keep of a message
_ROW_BYTES = 4 + 8 + 1 + 8


class Segment(msgspec.Struct, array_like=True):
    accepted_at: float  # receiver clock, epoch seconds
    keys: list[tuple[str, str]]
    key_index: bytes  # uint32 per record
    timestamps: bytes  # float64 per record
    is_error: bytes  # bool per record
    durations: bytes  # float64 per record, -1.0 for none
    error_messages: list[str]  # one per error record, in order

    @property
    def rows(self) -> int:
        return len(self.is_error)

    def size_estimate(self) -> int:
        return self.rows * _ROW_BYTES + sum(map(len, self.error_messages)) + 64 * len(self.keys)


class _Wire(msgspec.Struct, array_like=True):
    version: int
    segments: list[Segment]


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(_Wire)


class MessageFormatError(ValueError):
    """A message this version cannot read."""


@dataclass(frozen=True, slots=True)
class DecodedMessage:
    accepted_at: float  # the newest segment's
    keys: list[tuple[str, str]]
    key_index: npt.NDArray[np.uint32]
    batch: LogBatch


class SegmentBuilder:
    """Gathers one partition's records from several requests into one segment (keys
    shared, columns joined as bytes), so a message costs a few operations to decode
    however many requests fed it."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], int] = {}
        self.rows = 0
        self.accepted_at = 0.0
        self._key_index: list[bytes] = []
        self._timestamps: list[bytes] = []
        self._is_error: list[bytes] = []
        self._durations: list[bytes] = []
        self._errors: list[str] = []

    @property
    def room(self) -> int:
        return MAX_SEGMENT_ROWS - self.rows

    def add(
        self,
        batch: LogBatch,
        split: SplitBatch,
        part: PartitionSlice,
        window: slice,
        *,
        accepted_at: float,
    ) -> None:
        """Add rows `window` of the split (all inside `part`, at most `room` of them)."""
        keys = self.keys
        mapping = np.fromiter(
            (keys.setdefault(key, len(keys)) for key in part.keys), np.uint32, len(part.keys)
        )
        is_error = split.is_error[window]
        self._key_index.append(mapping[split.key_index[window]].astype("<u4").tobytes())
        self._timestamps.append(split.timestamps[window].astype("<f8").tobytes())
        self._is_error.append(is_error.tobytes())
        self._durations.append(split.durations[window].astype("<f8").tobytes())
        if is_error.any():
            messages = batch.messages
            self._errors.extend(
                messages[row][:ERROR_TEXT_CHARS] for row in split.rows[window][is_error].tolist()
            )
        self.rows += len(is_error)
        self.accepted_at = max(self.accepted_at, accepted_at)

    def build(self) -> Segment:
        return Segment(
            accepted_at=self.accepted_at,
            keys=list(self.keys),
            key_index=b"".join(self._key_index),
            timestamps=b"".join(self._timestamps),
            is_error=b"".join(self._is_error),
            durations=b"".join(self._durations),
            error_messages=self._errors,
        )


def segments(
    batch: LogBatch, split: SplitBatch, part: PartitionSlice, *, accepted_at: float
) -> list[Segment]:
    """A partition's records of one request alone, in segments of MAX_SEGMENT_ROWS."""
    out: list[Segment] = []
    for first in range(part.start, part.stop, MAX_SEGMENT_ROWS):
        builder = SegmentBuilder()
        window = slice(first, min(first + MAX_SEGMENT_ROWS, part.stop))
        builder.add(batch, split, part, window, accepted_at=accepted_at)
        out.append(builder.build())
    return out


def encode(parts: list[Segment]) -> bytes:
    return _ENCODER.encode(_Wire(version=FORMAT_VERSION, segments=parts))


def decode(payload: bytes) -> DecodedMessage:
    try:
        wire = _DECODER.decode(payload)
    except msgspec.DecodeError as exc:
        raise MessageFormatError(f"unreadable batch message: {exc}") from None
    if wire.version != FORMAT_VERSION:
        raise MessageFormatError(f"batch message format {wire.version} is not supported")
    keys: list[tuple[str, str]] = []
    indexes, stamps, errors, durations = [], [], [], []
    texts: list[str] = []
    for segment in wire.segments:
        key_index = np.frombuffer(segment.key_index, "<u4")
        size = key_index.size
        flags = np.frombuffer(segment.is_error, np.bool_)
        if not (len(segment.timestamps) == len(segment.durations) == 8 * size == 8 * flags.size):
            raise MessageFormatError("batch message columns disagree")
        if size and int(key_index.max()) >= len(segment.keys):
            raise MessageFormatError("batch message refers to an unknown service")
        if len(segment.error_messages) != int(flags.sum()):
            raise MessageFormatError("batch message has the wrong number of error texts")
        indexes.append(key_index + np.uint32(len(keys)))
        keys.extend(segment.keys)
        stamps.append(np.frombuffer(segment.timestamps, "<f8"))
        errors.append(flags)
        durations.append(np.frombuffer(segment.durations, "<f8"))
        texts.extend(segment.error_messages)
    key_index = np.concatenate(indexes) if indexes else np.empty(0, np.uint32)
    is_error = np.concatenate(errors) if errors else np.empty(0, np.bool_)
    messages = [""] * key_index.size
    for row, text in zip(np.flatnonzero(is_error).tolist(), texts, strict=True):
        messages[row] = text
    projects = np.array([k[0] for k in keys], object)[key_index].tolist()
    services = np.array([k[1] for k in keys], object)[key_index].tolist()
    batch = LogBatch(
        timestamps=np.concatenate(stamps).astype(np.float64) if stamps else np.empty(0),
        projects=projects,
        services=services,
        is_error=is_error,
        durations=np.concatenate(durations).astype(np.float64) if durations else np.empty(0),
        messages=messages,
        received=key_index.size,
    )
    newest = max((s.accepted_at for s in wire.segments), default=0.0)
    return DecodedMessage(newest, keys, key_index, batch)
