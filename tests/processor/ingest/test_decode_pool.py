"""The decoding process: batches and refusals come back intact, and a decoder that dies is
replaced (the request it held is answered as retryable)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from tracer_processor.ingest.batch import BatchRejectedError, IngestLimits, LogBatch
from tracer_processor.ingest.decode_pool import DecodePool, DecoderUnavailableError
from tracer_processor.ingest.records import parse_logs

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()


def decode_where(body: bytes, **kwargs: Any) -> LogBatch:
    """`parse_logs`, with the decoding process's id as the first record's message."""
    batch = parse_logs(body, **kwargs)
    batch.is_error[0] = True
    batch.messages = [str(os.getpid()), *list(batch.messages)[1:]]
    return batch


def die(body: bytes, **kwargs: Any) -> LogBatch:
    os._exit(3)


def record(index: int) -> dict[str, Any]:
    return {"timestamp": int(NOW * 1000) - index, "service": f"s{index % 3}",
            "level": "error" if index % 2 else "info", "message": f"m{index}"}  # fmt: skip


async def test_batches_and_refusals_come_back_from_the_decoding_process() -> None:
    pool = DecodePool(thread_bytes=10, process_bytes=100)
    try:
        body = orjson.dumps([record(i) for i in range(50)])
        options = {"ndjson": False, "now": NOW, "limits": IngestLimits()}
        batch = await pool.decode(decode_where, body, **options)
        assert int(batch.messages[0]) != os.getpid()
        assert batch.size == 50
        assert batch.services == [f"s{i % 3}" for i in range(50)]
        assert [batch.messages[i] for i in (1, 2, 3)] == ["m1", "", "m3"]  # error rows only
        assert batch.is_error.tolist()[1:] == [i % 2 == 1 for i in range(1, 50)]
        too_many = {**options, "limits": IngestLimits(max_records=10)}
        with pytest.raises(BatchRejectedError) as refused:
            await pool.decode(parse_logs, body, **too_many)
        assert refused.value.too_large
        small = await pool.decode(decode_where, orjson.dumps([record(0)]), **options)
        assert int(small.messages[0]) == os.getpid()  # small bodies never leave the loop
    finally:
        pool.shutdown()


async def test_a_dead_decoder_is_replaced() -> None:
    pool = DecodePool(thread_bytes=10, process_bytes=100)
    body = orjson.dumps([record(i) for i in range(50)])
    options = {"ndjson": False, "now": NOW, "limits": IngestLimits()}
    try:
        with pytest.raises(DecoderUnavailableError):
            await pool.decode(die, body, **options)
        batch = await pool.decode(decode_where, body, **options)
        assert batch.size == 50
    finally:
        pool.shutdown()
