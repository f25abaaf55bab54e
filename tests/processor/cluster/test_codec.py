"""Partitioning is stable and the batch message carries a partition's records unchanged."""

from __future__ import annotations

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
    parts = Partitioner(4).split(batch)
    seen: list[tuple[str, str, float, bool, float, str]] = []
    for part in parts:
        decoded = codec.decode(codec.encode(batch, part, accepted_at=12.5)).batch
        assert decoded.size == part.rows.size
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
    payload = codec.encode(batch, Partitioner(1).split(batch)[0], accepted_at=1.0)
    with pytest.raises(codec.MessageFormatError):
        codec.decode(payload[:-7])
    with pytest.raises(codec.MessageFormatError):
        codec.decode(b"\x93\x01\x02\x03")
