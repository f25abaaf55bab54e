"""The receiver side: a request's records, split by partition, published to JetStream.

All of a request's batch messages are published pipelined (`publish_async`) and the request
is answered only once JetStream has acknowledged every one of them: an accepted record is
stored in the stream before the client hears 202. Any failure (no server, no stream, a full
stream, a timeout) raises `PublishUnavailableError`, which the routes answer with 503 and
`Retry-After` - the client retries, nothing is accepted and dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time

from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import Error as JetStreamError

from tracer_core.clock import Clock
from tracer_processor.cluster import codec
from tracer_processor.cluster.metrics import ClusterMetrics
from tracer_processor.cluster.partitioning import SUBJECT_PREFIX, Partitioner, subject_of
from tracer_processor.ingest.batch import LogBatch

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 2
MAX_PENDING_PUBLISHES = 16_384


class PublishUnavailableError(Exception):
    """JetStream did not acknowledge a request's records: answer 503, let the client retry."""


def stream_config(name: str, *, max_bytes: int, max_age_seconds: float) -> StreamConfig:
    """File-backed, bounded; when full, new publishes are refused (never old data dropped
    before processors folded it in)."""
    return StreamConfig(
        name=name,
        subjects=[f"{SUBJECT_PREFIX}.*"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        max_bytes=max_bytes,
        max_age=max_age_seconds,
        duplicate_window=120.0,
    )


async def ensure_stream(nc: NatsClient, config: StreamConfig) -> None:
    js = nc.jetstream()
    try:
        await js.add_stream(config=config)
    except JetStreamError as exc:  # exists with other limits: keep the operator's settings
        log.info("stream %s already exists (%s); using it as it is", config.name, exc)


class Publisher:
    def __init__(
        self,
        nc: NatsClient,
        *,
        stream: str,
        partitions: int,
        clock: Clock,
        metrics: ClusterMetrics,
        timeout: float,
    ) -> None:
        self._js = nc.jetstream(publish_async_max_pending=MAX_PENDING_PUBLISHES)
        self._nc = nc
        self._stream = stream
        self._partitioner = Partitioner(partitions)
        self._clock = clock
        self._metrics = metrics
        self._timeout = timeout

    async def publish(self, batch: LogBatch) -> int:
        """Publish a decoded batch; returns the records stored. Raises
        `PublishUnavailableError` unless every message was acknowledged."""
        if batch.size == 0:
            return 0
        if not self._nc.is_connected:
            self._metrics.publish_failures.inc()
            raise PublishUnavailableError("not connected to NATS")
        started = time.perf_counter()
        accepted_at = self._clock.now().timestamp()
        parts = self._partitioner.split(batch)
        try:
            async with asyncio.timeout(self._timeout):
                futures = [
                    await self._js.publish_async(
                        subject_of(part.partition),
                        codec.encode(batch, part, accepted_at=accepted_at),
                        stream=self._stream,
                        wait_stall=self._timeout,
                    )
                    for part in parts
                ]
                await asyncio.gather(*futures)
        except (TimeoutError, NatsError, JetStreamError, OSError) as exc:
            self._metrics.publish_failures.inc()
            log.warning("JetStream did not take %d records: %r", batch.size, exc)
            raise PublishUnavailableError(str(exc) or type(exc).__name__) from None
        self._metrics.publish_seconds.observe(time.perf_counter() - started)
        self._metrics.messages_published.inc(len(parts))
        return batch.size
