"""The batch message: one partition's records of one request, column by column.

A message is msgpack (msgspec) of a few raw little-endian arrays and the distinct service
keys, so encoding and decoding cost a handful of copies, not per-record objects. Only error
records carry their message text: the aggregator reads messages of error records alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import numpy as np
import numpy.typing as npt

from tracer_processor.cluster.partitioning import PartitionSlice
from tracer_processor.ingest.batch import LogBatch

FORMAT_VERSION = 1


class _Wire(msgspec.Struct, array_like=True):
    version: int
    accepted_at: float  # receiver clock, epoch seconds
    keys: list[tuple[str, str]]
    key_index: bytes  # uint32 per record
    timestamps: bytes  # float64 per record
    is_error: bytes  # bool per record
    durations: bytes  # float64 per record, -1.0 for none
    error_messages: list[str]  # one per error record, in order


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(_Wire)


class MessageFormatError(ValueError):
    """A message this version cannot read."""


@dataclass(frozen=True, slots=True)
class DecodedMessage:
    accepted_at: float
    keys: list[tuple[str, str]]
    key_index: npt.NDArray[np.uint32]
    batch: LogBatch


def encode(batch: LogBatch, part: PartitionSlice, *, accepted_at: float) -> bytes:
    rows = part.rows
    is_error = batch.is_error[rows]
    messages = batch.messages
    error_messages = [messages[int(row)] for row in rows[is_error].tolist()]
    return _ENCODER.encode(
        _Wire(
            version=FORMAT_VERSION,
            accepted_at=accepted_at,
            keys=part.keys,
            key_index=part.key_index.astype("<u4").tobytes(),
            timestamps=batch.timestamps[rows].astype("<f8").tobytes(),
            is_error=is_error.tobytes(),
            durations=batch.durations[rows].astype("<f8").tobytes(),
            error_messages=error_messages,
        )
    )


def decode(payload: bytes) -> DecodedMessage:
    try:
        wire = _DECODER.decode(payload)
    except msgspec.DecodeError as exc:
        raise MessageFormatError(f"unreadable batch message: {exc}") from None
    if wire.version != FORMAT_VERSION:
        raise MessageFormatError(f"batch message format {wire.version} is not supported")
    key_index = np.frombuffer(wire.key_index, "<u4")
    timestamps = np.frombuffer(wire.timestamps, "<f8").astype(np.float64)
    is_error = np.frombuffer(wire.is_error, np.bool_).copy()
    durations = np.frombuffer(wire.durations, "<f8").astype(np.float64)
    size = key_index.size
    if not (timestamps.size == is_error.size == durations.size == size) or (
        size and int(key_index.max()) >= len(wire.keys)
    ):
        raise MessageFormatError("batch message columns disagree")
    if len(wire.error_messages) != int(is_error.sum()):
        raise MessageFormatError("batch message has the wrong number of error texts")
    messages = [""] * size
    for row, text in zip(np.flatnonzero(is_error).tolist(), wire.error_messages, strict=True):
        messages[row] = text
    projects = [wire.keys[i][0] for i in key_index.tolist()]
    services = [wire.keys[i][1] for i in key_index.tolist()]
    batch = LogBatch(
        timestamps=timestamps,
        projects=projects,
        services=services,
        is_error=is_error,
        durations=durations,
        messages=messages,
        received=size,
    )
    return DecodedMessage(wire.accepted_at, list(wire.keys), key_index, batch)
