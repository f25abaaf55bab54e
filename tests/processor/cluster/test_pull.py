"""The processors' pull reader against a real JetStream: messages come in stream order with
their sequences and pending counts, a batch at a time; an empty consumer answers within the
wait; a message published while a reader waits is handed over at once."""

from __future__ import annotations

import asyncio
import time

import nats
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from tracer.nats_server import NatsServer
from tracer_processor.cluster.pull import Pulled, PullFeed, position


def test_the_position_is_read_from_both_subject_forms() -> None:
    assert position("$JS.ACK.LOGS.c1.1.42.42.1780000000000000000.7") == (42, 7)
    assert position("$JS.ACK._.acct.LOGS.c1.1.42.42.1780000000000000000.7.tok") == (42, 7)
    assert position("_INBOX.abc") is None
    assert position("$JS.ACK.LOGS.c1.1.x.42.1.7") is None


async def test_batches_in_stream_order_then_waiting_for_new_ones(
    nats_server: NatsServer,
) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="LOGS", subjects=["logs.*"]))
        for index in range(25):
            await js.publish(f"logs.{index % 3}", str(index).encode())
        feed = PullFeed(nc, "LOGS")
        await feed.open(ConsumerConfig(ack_policy=AckPolicy.NONE, filter_subjects=["logs.*"]))
        got: list[Pulled] = []
        while len(got) < 25:
            batch = await feed.fetch(10, 0.5)
            assert 0 < len(batch) <= 10
            got.extend(batch)
        assert [p.data for p in got] == [str(i).encode() for i in range(25)]
        assert [p.sequence for p in got] == list(range(1, 26))
        assert [p.subject for p in got[:3]] == ["logs.0", "logs.1", "logs.2"]
        assert got[-1].pending == 0
        assert got[0].pending == 24

        started = time.monotonic()
        assert await feed.fetch(10, 0.3) == []  # nothing left: an answer within the wait
        assert time.monotonic() - started < 2.0

        async def later() -> None:
            await asyncio.sleep(0.2)
            await js.publish("logs.1", b"late")

        task = asyncio.create_task(later())
        started = time.monotonic()
        batch = await feed.fetch(10, 5.0)
        await task
        assert [p.data for p in batch] == [b"late"]
        assert batch[0].sequence == 26
        assert time.monotonic() - started < 4.0  # handed over on arrival, not at expiry
        await feed.close()
    finally:
        await nc.close()
