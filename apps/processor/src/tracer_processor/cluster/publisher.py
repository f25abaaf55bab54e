"""The receiver side: a request's records, split by partition, published to JetStream.

All of a request's batch messages are published pipelined (acknowledgements read off one
inbox, `acks.py`) and the request is answered only once JetStream has acknowledged every
one of them: an accepted record is stored in the stream before the client hears 202. Any
failure (no server, no stream, a full stream, a timeout) raises `PublishUnavailableError`,
which the routes answer with 503 and `Retry-After` - the client retries, nothing is
accepted and dropped.

Some of a failed request's messages may have been stored. Each message therefore carries a
`Nats-Msg-Id` derived from the request (its body, or its `Idempotency-Key`, see
`ingest/request_id.py`), the partition and its place among the request's messages of that
partition: a retry within the stream's duplicate window (120 s) publishes the same ids, and
JetStream stores none of them twice (it acknowledges them with `duplicate`).
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
from tracer_processor.cluster.acks import AckInbox, PublishRefusedError
from tracer_processor.cluster.metrics import ClusterMetrics
from tracer_processor.cluster.partitioning import SUBJECT_PREFIX, Partitioner, subject_of
from tracer_processor.ingest.batch import LogBatch

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 2
MAX_MESSAGE_BYTES = 512 * 1024
MSG_ID_HEADER = "Nats-Msg-Id"
EXPECTED_STREAM_HEADER = "Nats-Expected-Stream"
DUPLICATE_WINDOW_SECONDS = 120.0  # a retry within this long of the first attempt is dropped


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
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
    )


async def ensure_stream(nc: NatsClient, config: StreamConfig) -> None:
    js = nc.jetstream()
    try:
        await js.add_stream(config=config)
    except JetStreamError as exc:  # exists with other limits: keep the operator's settings
        log.info("stream %s already exists (%s); using it as it is", config.name, exc)


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


def message_id(request_id: str, partition: int, index: int) -> str:
    """The JetStream de-duplication id of a request's `index`-th message of `partition`:
    the same for every attempt at the same request, so a retry's copies are dropped."""
    return f"{request_id}.{partition}.{index}"


class Publisher:
    """Publishes each request's records as its own messages, one (or more, when large) per
    partition, pipelined, each with a de-duplication id derived from the request, and
    releases the request once every message is acknowledged. Messages are never shared
    between requests: a shared message's id could not be the same on a retry."""

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
        self._acks = AckInbox(nc)
        self._nc = nc
        self._stream = stream
        self._partitioner = Partitioner(partitions)
        self._clock = clock
        self._metrics = metrics
        self._timeout = timeout

    async def publish(self, batch: LogBatch, request_id: str) -> int:
        """Publish a decoded batch; returns the records stored. `request_id` names the
        request (the same on every retry of it). Raises `PublishUnavailableError` unless
        every message holding the records was acknowledged (or was a duplicate of one
        stored by an earlier attempt)."""
        if batch.size == 0:
            return 0
        if not self._nc.is_connected:
            self._metrics.publish_failures.inc()
            raise PublishUnavailableError("not connected to NATS")
        started = time.perf_counter()
        accepted_at = self._clock.now().timestamp()
        split = self._partitioner.split(batch)
        replies: list[str] = []
        futures: list[asyncio.Future[bool]] = []
        try:
            async with asyncio.timeout(self._timeout):
                for part in split.parts:
                    subject = subject_of(part.partition)
                    parts = codec.segments(batch, split, part, accepted_at=accepted_at)
                    for index, group in enumerate(_messages(parts)):
                        reply, future = await self._acks.reply_subject()
                        replies.append(reply)
                        futures.append(future)
                        await self._nc.publish(
                            subject,
                            codec.encode(group, sender=batch.sender),
                            reply=reply,
                            headers={
                                EXPECTED_STREAM_HEADER: self._stream,
                                MSG_ID_HEADER: message_id(request_id, part.partition, index),
                            },
                        )
                outcomes = await asyncio.gather(*futures, return_exceptions=True)
            for outcome in outcomes:  # every outcome read: none is left unretrieved
                if isinstance(outcome, BaseException):
                    raise outcome
            duplicates = sum(1 for outcome in outcomes if outcome is True)
        except (TimeoutError, NatsError, PublishRefusedError, OSError) as exc:
            self._acks.forget(replies)
            self._metrics.publish_failures.inc()
            log.warning("JetStream did not take %d records: %r", batch.size, exc)
            raise PublishUnavailableError(repr(exc)) from None
        self._metrics.messages_published.inc(len(futures) - duplicates)
        if duplicates:
            self._metrics.duplicates_dropped.inc(duplicates)
        self._metrics.publish_seconds.observe(time.perf_counter() - started)
        return batch.size
