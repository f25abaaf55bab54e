"""The receiver's publisher against a real JetStream: a request's messages are stored once
however often it is published, and a publish nobody stores is refused, never accepted."""

from __future__ import annotations

from datetime import UTC, datetime

import nats
import numpy as np
import pytest
from nats.aio.client import Client as NatsClient
from prometheus_client import CollectorRegistry

from tracer.nats_server import NatsServer
from tracer_core.clock import ManualClock
from tracer_processor.cluster.metrics import ClusterMetrics
from tracer_processor.cluster.publisher import (
    Publisher,
    PublishUnavailableError,
    ensure_stream,
    stream_config,
)
from tracer_processor.ingest.batch import LogBatch

STREAM = "TRACER_LOGS"


def _batch(services: int) -> LogBatch:
    names = [f"service-{i % services}" for i in range(600)]
    return LogBatch(
        timestamps=np.full(600, 1_780_000_000.0),
        projects=["shop"] * 600,
        services=names,
        is_error=np.arange(600) % 7 == 0,
        durations=np.full(600, 12.0),
        messages=["upstream timed out"] * 600,
        received=600,
        sender="key-1",
    )


def _publisher(nc: NatsClient, metrics: ClusterMetrics) -> Publisher:
    clock = ManualClock(datetime(2026, 6, 1, tzinfo=UTC))
    return Publisher(nc, stream=STREAM, partitions=8, clock=clock, metrics=metrics, timeout=2.0)


async def test_a_request_published_again_is_stored_once(nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        await ensure_stream(nc, stream_config(STREAM, max_bytes=2**26, max_age_seconds=600))
        metrics = ClusterMetrics(CollectorRegistry())
        publisher = _publisher(nc, metrics)
        batch = _batch(services=20)
        assert await publisher.publish(batch, "request-1") == 600
        stored = (await nc.jetstream().stream_info(STREAM)).state.messages
        assert await publisher.publish(batch, "request-1") == 600
        assert await publisher.publish(batch, "request-2") == 600  # another request
        info = await nc.jetstream().stream_info(STREAM)
    finally:
        await nc.close()
    assert 1 < stored <= 8  # one message per partition the records fall in
    assert info.state.messages == 2 * stored
    assert metrics.duplicates_dropped._value.get() == stored
    assert metrics.messages_published._value.get() == 2 * stored


async def test_a_publish_no_stream_takes_is_refused(nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        metrics = ClusterMetrics(CollectorRegistry())
        with pytest.raises(PublishUnavailableError):
            await _publisher(nc, metrics).publish(_batch(services=3), "request-1")
    finally:
        await nc.close()
    assert metrics.publish_failures._value.get() == 1
