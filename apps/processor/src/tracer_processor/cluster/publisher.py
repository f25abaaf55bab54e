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
LINGER_SECONDS = 0.002  # how long a request's records wait for others to share messages
FLUSH_RECORDS = 20_000  # ... unless this many are already waiting
MAX_MESSAGE_BYTES = 512 * 1024


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


class _Round:
    """The records gathered for one flush; every request in it gets the flush's outcome."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.parts: dict[int, list[codec.SegmentBuilder]] = {}
        self.records = 0
        self.done: asyncio.Future[int] = loop.create_future()
        self.done.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[int]) -> None:
    if not future.cancelled():
        future.exception()  # requests that timed out no longer wait for the outcome


def _messages(segments: list[codec.Segment]) -> list[list[codec.Segment]]:
    """Group a partition's segments into messages of at most MAX_MESSAGE_BYTES."""
    groups: list[list[codec.Segment]] = [[]]
    size = 0
    for segment in segments:
        estimate = segment.size_estimate()
        if groups[-1] and size + estimate > MAX_MESSAGE_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(segment)
        size += estimate
    return groups


class Publisher:
    """Gathers the records of concurrent requests for a couple of milliseconds, publishes
    one message per partition (pipelined), and releases each request once every message
    holding its records is acknowledged."""

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
        self._round: _Round | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def publish(self, batch: LogBatch) -> int:
        """Publish a decoded batch; returns the records stored. Raises
        `PublishUnavailableError` unless every message holding them was acknowledged."""
        if batch.size == 0:
            return 0
        if not self._nc.is_connected:
            self._metrics.publish_failures.inc()
            raise PublishUnavailableError("not connected to NATS")
        started = time.perf_counter()
        accepted_at = self._clock.now().timestamp()
        loop = asyncio.get_running_loop()
        current = self._round
        if current is None:
            current = self._round = _Round(loop)
            self._timer = loop.call_later(LINGER_SECONDS, self._flush)
        split = self._partitioner.split(batch)
        for part in split.parts:
            builders = current.parts.setdefault(part.partition, [])
            first = part.start
            while first < part.stop:
                if not builders or builders[-1].room == 0:
                    builders.append(codec.SegmentBuilder())
                stop = min(part.stop, first + builders[-1].room)
                builders[-1].add(batch, split, part, slice(first, stop), accepted_at=accepted_at)
                first = stop
        current.records += batch.size
        if current.records >= FLUSH_RECORDS:
            self._flush()
        try:
            async with asyncio.timeout(self._timeout):
                await asyncio.shield(current.done)
        except (TimeoutError, PublishUnavailableError) as exc:
            self._metrics.publish_failures.inc()
            log.warning("JetStream did not take %d records: %r", batch.size, exc)
            raise PublishUnavailableError(str(exc) or type(exc).__name__) from None
        self._metrics.publish_seconds.observe(time.perf_counter() - started)
        return batch.size

    def _flush(self) -> None:
        current, self._round = self._round, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if current is None:
            return
        task = asyncio.get_running_loop().create_task(self._send(current))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, current: _Round) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                futures = [
                    await self._js.publish_async(
                        subject_of(partition),
                        codec.encode(group),
                        stream=self._stream,
                        wait_stall=self._timeout,
                    )
                    for partition, builders in current.parts.items()
                    for group in _messages([builder.build() for builder in builders])
                ]
                await asyncio.gather(*futures)
        except (TimeoutError, NatsError, JetStreamError, OSError) as exc:
            if not current.done.done():
                current.done.set_exception(PublishUnavailableError(repr(exc)))
            return
        self._metrics.messages_published.inc(len(futures))
        if not current.done.done():
            current.done.set_result(len(futures))
