"""The batch message: one request's records of one partition, column by column.

A message is msgpack (msgspec) of segments, each a few raw little-endian arrays plus the
distinct service keys, so encoding and decoding cost a handful of copies, not per-record
objects. Only error records carry their text, cut to what the error samples ever read: the
aggregator reads the text of error records alone.

Versions: 3 adds the sender (the ingest key's id, for its service quota) after the
segments; a version 2 message (no sender, possibly segments of several requests) is still
read, as a message of no key. Processors must be upgraded before receivers: a version 2
processor refuses version 3 messages.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import numpy as np
import numpy.typing as npt

from tracer_processor.buckets.templates import MAX_MESSAGE_CHARS
from tracer_processor.cluster.partitioning import PartitionSlice, SplitBatch
from tracer_processor.ingest.batch import LogBatch

FORMAT_VERSION = 3
READABLE_VERSIONS = (2, 3)
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
    sender: str | None = None  # version 3: the ingest key that sent every segment


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
    sender: str | None  # the ingest key's id (None: keys off, or a version 2 message)


def segments(
    batch: LogBatch, split: SplitBatch, part: PartitionSlice, *, accepted_at: float
) -> list[Segment]:
    """A partition's records of one request alone, in segments of MAX_SEGMENT_ROWS: slices
    of the split's partition-ordered columns, whose key indexes are already the
    partition's own."""
    out: list[Segment] = []
    messages = batch.messages
    for first in range(part.start, part.stop, MAX_SEGMENT_ROWS):
        window = slice(first, min(first + MAX_SEGMENT_ROWS, part.stop))
        is_error = split.is_error[window]
        errors = (
            [messages[row][:ERROR_TEXT_CHARS] for row in split.rows[window][is_error].tolist()]
            if is_error.any()
            else []
        )
        out.append(
            Segment(
                accepted_at=accepted_at,
                keys=part.keys,
                key_index=split.key_index[window].astype("<u4").tobytes(),
                timestamps=split.timestamps[window].astype("<f8").tobytes(),
                is_error=is_error.tobytes(),
                durations=split.durations[window].astype("<f8").tobytes(),
                error_messages=errors,
            )
        )
    return out


def encode(parts: list[Segment], *, sender: str | None = None) -> bytes:
    return _ENCODER.encode(_Wire(version=FORMAT_VERSION, segments=parts, sender=sender))


@dataclass(frozen=True, slots=True)
class DecodedMessages:
    """The records of several messages as one batch, in message order, with where each
    message's rows end. Messages that could not be read hold no rows and are in `refused`."""

    keys: list[tuple[str, str]]  # distinct (project, service) of all the messages
    key_index: npt.NDArray[np.uint32]  # per row: its key in `keys`
    batch: LogBatch  # sender unset: messages of several senders may be mixed
    stops: list[int]  # per message: one past its last row
    accepted_at: list[float]  # per message: its newest segment's accept time (0: refused)
    senders: list[str | None]  # per message
    refused: list[tuple[int, str]]  # (position, why) of the messages that could not be read

    def rows_of(self, position: int) -> tuple[int, int]:
        return (self.stops[position - 1] if position else 0), self.stops[position]

    def part(self, start: int, stop: int, sender: str | None) -> LogBatch:
        """Rows `start:stop` as a batch of their own, sent by `sender`."""
        batch = self.batch
        if start == 0 and stop == batch.size:
            batch.sender = sender
            return batch
        return LogBatch(
            timestamps=batch.timestamps[start:stop],
            projects=batch.projects[start:stop],
            services=batch.services[start:stop],
            is_error=batch.is_error[start:stop],
            durations=batch.durations[start:stop],
            messages=batch.messages[start:stop],
            received=stop - start,
            sender=sender,
        )


def _read(payload: bytes) -> _Wire:
    """A message's wire form, every segment checked before any of it is used."""
    try:
        wire = _DECODER.decode(payload)
    except msgspec.DecodeError as exc:
        raise MessageFormatError(f"unreadable batch message: {exc}") from None
    if wire.version not in READABLE_VERSIONS:
        raise MessageFormatError(f"batch message format {wire.version} is not supported")
    for segment in wire.segments:
        size = len(segment.key_index) // 4
        if not (
            len(segment.key_index) == 4 * size
            and len(segment.timestamps) == len(segment.durations) == 8 * size
            and len(segment.is_error) == size
        ):
            raise MessageFormatError("batch message columns disagree")
        if size and int(np.frombuffer(segment.key_index, "<u4").max()) >= len(segment.keys):
            raise MessageFormatError("batch message refers to an unknown service")
        if len(segment.error_messages) != int(np.frombuffer(segment.is_error, np.bool_).sum()):
            raise MessageFormatError("batch message has the wrong number of error texts")
    return wire


def decode_many(payloads: list[bytes]) -> DecodedMessages:
    """Decode messages into one batch: per-message work is a few buffer views, the
    columns are joined and the keys resolved once for all of them."""
    key_ids: dict[tuple[str, str], int] = {}
    indexes: list[npt.NDArray[np.uint32]] = []
    stamps: list[bytes] = []
    errors: list[bytes] = []
    durations: list[bytes] = []
    texts: list[str] = []
    stops: list[int] = []
    accepted: list[float] = []
    senders: list[str | None] = []
    refused: list[tuple[int, str]] = []
    rows = 0
    for position, payload in enumerate(payloads):
        try:
            wire = _read(payload)
        except MessageFormatError as exc:
            refused.append((position, str(exc)))
            wire = _Wire(version=FORMAT_VERSION, segments=[])
        for segment in wire.segments:
            mapping = np.fromiter(
                (key_ids.setdefault(key, len(key_ids)) for key in segment.keys),
                np.uint32,
                len(segment.keys),
            )
            indexes.append(mapping[np.frombuffer(segment.key_index, "<u4")])
            stamps.append(segment.timestamps)
            errors.append(segment.is_error)
            durations.append(segment.durations)
            texts.extend(segment.error_messages)
            rows += len(segment.is_error)
        stops.append(rows)
        accepted.append(max((s.accepted_at for s in wire.segments), default=0.0))
        senders.append(wire.sender)
    keys = list(key_ids)
    key_index = np.concatenate(indexes) if indexes else np.empty(0, np.uint32)
    is_error = np.frombuffer(b"".join(errors), np.bool_)
    messages = [""] * rows
    for row, text in zip(np.flatnonzero(is_error).tolist(), texts, strict=True):
        messages[row] = text
    batch = LogBatch(
        timestamps=np.frombuffer(b"".join(stamps), "<f8").astype(np.float64),
        projects=np.array([k[0] for k in keys], object)[key_index].tolist(),
        services=np.array([k[1] for k in keys], object)[key_index].tolist(),
        is_error=is_error.copy(),
        durations=np.frombuffer(b"".join(durations), "<f8").astype(np.float64),
        messages=messages,
        received=rows,
    )
    return DecodedMessages(keys, key_index, batch, stops, accepted, senders, refused)


def decode(payload: bytes) -> DecodedMessage:
    """One message; raises `MessageFormatError` when it cannot be read."""
    many = decode_many([payload])
    if many.refused:
        raise MessageFormatError(many.refused[0][1])
    many.batch.sender = many.senders[0]
    return DecodedMessage(
        many.accepted_at[0], many.keys, many.key_index, many.batch, many.senders[0]
    )
