"""Partitioning is stable and the batch message carries a partition's records unchanged."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from tracer_processor.cluster import codec
from tracer_processor.cluster.partitioning import (
    Partitioner,
    partition_of,
    partition_of_subject,
    subject_of,
)
from tracer_processor.ingest.batch import LogBatch


def _batch() -> LogBatch:
    services = ["api", "db", "api", "web", "db", "api"]
    return LogBatch(
        timestamps=np.arange(6, dtype=np.float64) + 1_700_000_000.5,
        projects=["shop"] * 5 + ["blog"],
        services=services,
        is_error=np.array([False, True, False, False, True, True]),
        durations=np.array([1.0, -1.0, 3.0, 4.0, 5.0, -1.0]),
        messages=["ok", "db down", "ok", "ok", "db slow", "api broke"],
        received=6,
    )


def test_the_partition_is_a_stable_hash_of_project_and_service() -> None:
    assert partition_of("shop", "api", 64) == partition_of("shop", "api", 64)
    assert 0 <= partition_of("shop", "api", 64) < 64
    assert partition_of_subject(subject_of(17)) == 17
    spread = {partition_of("p", f"service-{i}", 16) for i in range(400)}
    assert spread == set(range(16))


def test_split_then_encode_and_decode_gives_every_record_back_once() -> None:
    batch = _batch()
    split = Partitioner(4).split(batch)
    seen: list[tuple[str, str, float, bool, float, str]] = []
    for part in split.parts:
        message = codec.encode(codec.segments(batch, split, part, accepted_at=1.5))
        decoded = codec.decode(message).batch
        assert decoded.size == part.stop - part.start
        for row in range(decoded.size):
            key = (decoded.projects[row], decoded.services[row])
            assert partition_of(*key, 4) == part.partition
            seen.append(
                (
                    *key,
                    float(decoded.timestamps[row]),
                    bool(decoded.is_error[row]),
                    float(decoded.durations[row]),
                    decoded.messages[row],
                )
            )
    expected = [
        (p, s, float(t), bool(e), float(d), m if e else "")
        for p, s, t, e, d, m in zip(
            batch.projects,
            batch.services,
            batch.timestamps,
            batch.is_error,
            batch.durations,
            batch.messages,
            strict=True,
        )
    ]
    assert sorted(seen) == sorted(expected)


def test_a_damaged_message_is_refused() -> None:
    batch = _batch()
    split = Partitioner(1).split(batch)
    payload = codec.encode(codec.segments(batch, split, split.parts[0], accepted_at=1.0))
    with pytest.raises(codec.MessageFormatError):
        codec.decode(payload[:-7])
    with pytest.raises(codec.MessageFormatError):
        codec.decode(b"\x93\x01\x02\x03")


def test_segments_of_several_requests_make_one_message() -> None:
    first, second = _batch(), _batch()
    second.timestamps = second.timestamps + 100
    one, two = Partitioner(1).split(first), Partitioner(1).split(second)
    message = codec.encode(
        codec.segments(first, one, one.parts[0], accepted_at=1.0)
        + codec.segments(second, two, two.parts[0], accepted_at=2.0)
    )
    decoded = codec.decode(message)
    assert decoded.accepted_at == 2.0
    assert decoded.batch.size == 12
    assert decoded.batch.services == first.services + second.services
    assert decoded.batch.timestamps.tolist() == [*first.timestamps, *second.timestamps]


def test_the_sender_travels_with_the_message_and_version_2_is_still_read() -> None:
    batch = _batch()
    split = Partitioner(1).split(batch)
    parts = codec.segments(batch, split, split.parts[0], accepted_at=1.0)
    assert codec.decode(codec.encode(parts, sender="3f9a0c")).sender == "3f9a0c"
    older = msgspec.msgpack.encode([2, parts])  # version 2: no sender field
    decoded = codec.decode(older)
    assert (decoded.sender, decoded.batch.size, decoded.batch.sender) == (None, 6, None)
    with pytest.raises(codec.MessageFormatError):
        codec.decode(msgspec.msgpack.encode([1, parts]))


def test_messages_of_several_senders_decode_into_one_batch_with_their_ranges() -> None:
    batch = _batch()
    split = Partitioner(2).split(batch)
    payloads = [
        codec.encode(codec.segments(batch, split, part, accepted_at=float(i)), sender=f"k{i}")
        for i, part in enumerate(split.parts)
    ]
    many = codec.decode_many([*payloads, b"\x93\x01\x02\x03"])
    assert many.batch.size == 6
    assert many.senders == ["k0", "k1", None]
    assert [position for position, _ in many.refused] == [2]
    start, stop = many.rows_of(1)
    assert many.part(start, stop, "k1").services == many.batch.services[start:stop]
    assert stop - start == split.parts[1].stop - split.parts[1].start
