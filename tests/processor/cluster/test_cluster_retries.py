"""A retried request is stored once: when JetStream took some of a request's partition
messages and refused others, the receiver answers 503, and the client's retry (or any
resend of the same request within the duplicate window) publishes the same message ids, so
JetStream drops the copies and every record is folded in exactly once."""

from __future__ import annotations

import asyncio
import random

import httpx
import nats
import pytest
from nats.js.api import StreamConfig

from tests.processor.cluster import traffic
from tests.processor.cluster.fleet import CLUSTER_ENV, Fleet
from tests.support import wait_until
from tracer.nats_server import NatsServer
from tracer_processor.cluster import codec
from tracer_processor.cluster.partitioning import partition_of, subject_of
from tracer_processor.cluster.publisher import stream_config

pytestmark = pytest.mark.slow
STREAM = "TRACER_LOGS"
PARTITIONS = int(CLUSTER_ENV["TRACER_PARTITIONS"])


def _limited(config: StreamConfig, per_subject: int) -> StreamConfig:
    config.max_msgs_per_subject = per_subject
    config.discard_new_per_subject = per_subject > 0
    return config


async def _stream(url: str, *, per_subject: int, fill: str | None = None) -> int:
    """Create (or update) the stream with a per-subject message limit, optionally putting
    one empty batch message on `fill`; returns the messages the stream holds."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        config = _limited(stream_config(STREAM, max_bytes=2**28, max_age_seconds=3600), per_subject)
        if fill is None:
            await js.update_stream(config)
        else:
            await js.add_stream(config)
            await js.publish(fill, codec.encode([]), stream=STREAM)
        return int((await js.stream_info(STREAM)).state.messages)
    finally:
        await nc.close()


def test_a_partly_stored_request_retried_is_folded_in_once(
    database_url: str, fleet: Fleet, nats_server: NatsServer
) -> None:
    assert partition_of("shop", "payments", PARTITIONS) != partition_of("shop", "auth", PARTITIONS)
    # The auth partition is full (one message, new ones refused); payments has room.
    auth = subject_of(partition_of("shop", "auth", PARTITIONS))
    assert asyncio.run(_stream(nats_server.url, per_subject=1, fill=auth)) == 1
    records = traffic.history(random.Random(5), services=["payments", "auth"], minutes=3,
                              incident=None)  # fmt: skip
    receivers = [fleet.start("receiver-1", "receiver"), fleet.start("receiver-2", "receiver")]
    fleet.start("processor-1", "processor")
    with httpx.Client(timeout=30) as http:
        partial = http.post(f"{receivers[0].url}/api/logs", json=records)
        assert partial.status_code == 503  # payments' message was stored, auth's refused
        assert asyncio.run(_stream(nats_server.url, per_subject=-1)) == 2
        # The client retries through the other receiver, then sends it once more.
        retried = http.post(f"{receivers[1].url}/api/logs", json=records)
        again = http.post(f"{receivers[0].url}/api/logs", json=records)
        assert (retried.status_code, again.status_code) == (202, 202)
        assert retried.json()["accepted"] == len(records)
        metrics = http.get(f"{receivers[0].url}/metrics").text
    assert asyncio.run(_stream(nats_server.url, per_subject=-1)) == 3  # one message each more
    assert "tracer_cluster_publish_duplicates_total 2.0" in metrics
    wait_until(lambda: traffic.folded(database_url) == len(records) - 2, timeout=60)
    fleet.stop()
    assert traffic.folded(database_url) == len(records) - 2
