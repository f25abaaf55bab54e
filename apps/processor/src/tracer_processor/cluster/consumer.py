"""The processor side: one pull consumer over the subjects of the owned partitions.

The consumer starts at the lowest resume point of the owned partitions and delivers in
stream order; a message at or past its partition's next sequence is folded in through the
pipeline, anything earlier (already folded, or replayed for another partition's sake) is
skipped. Acknowledgements are not used: what is folded in is recorded in PostgreSQL with the
checkpoints (the resume point), which is what a successor continues from.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import numpy as np
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import Error as JetStreamError

from tracer_processor.cluster import codec
from tracer_processor.cluster.clock import StreamClock
from tracer_processor.cluster.ledger import Ledger, PartitionState
from tracer_processor.cluster.metrics import ClusterMetrics
from tracer_processor.cluster.partitioning import partition_of_subject, subject_of
from tracer_processor.ingest.batch import LogBatch
from tracer_processor.pipeline import Pipeline

log = logging.getLogger(__name__)
FETCH_MESSAGES = 256
POLL_SECONDS = 0.5
CONSUMER_IDLE_SECONDS = 30.0


class PartitionConsumer:
    def __init__(
        self,
        nc: NatsClient,
        *,
        stream: str,
        pipeline: Pipeline,
        ledger: Ledger,
        clock: StreamClock,
        metrics: ClusterMetrics,
    ) -> None:
        self._js: JetStreamContext = nc.jetstream()
        self._stream = stream
        self._pipeline = pipeline
        self._ledger = ledger
        self._clock = clock
        self._metrics = metrics
        self._bucket_seconds = pipeline.detector.config.bucket_seconds
        self._sub: JetStreamContext.PullSubscription | None = None
        self._stale = True
        self._changed = asyncio.Event()

    def owned_changed(self) -> None:
        """The owned partitions changed: subscribe again before the next fetch."""
        self._stale = True
        self._changed.set()

    async def run(self) -> None:
        while True:
            try:
                if self._stale:
                    await self._subscribe()
                if self._sub is None:
                    self._clock.caught_up()
                    self._changed.clear()
                    await self._changed.wait()
                    continue
                try:
                    messages = await self._sub.fetch(FETCH_MESSAGES, timeout=POLL_SECONDS)
                except TimeoutError:
                    self._clock.caught_up()
                    self._metrics.consumer_pending.set(0)
                    continue
                self.fold(messages)
            except (NatsError, JetStreamError, OSError) as exc:
                log.warning("consuming the log stream failed (retrying): %r", exc)
                self._stale = True
                await asyncio.sleep(POLL_SECONDS)

    async def stop(self) -> None:
        await self._unsubscribe()

    async def _subscribe(self) -> None:
        await self._unsubscribe()
        self._stale = False
        owned = self._ledger.owned
        if not owned:
            return
        start = min(state.next_seq for state in owned.values())
        subjects = [subject_of(p) for p in sorted(owned)]
        config = ConsumerConfig(
            filter_subjects=subjects,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=CONSUMER_IDLE_SECONDS,
            mem_storage=True,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if start > 1 else DeliverPolicy.ALL,
            opt_start_seq=start if start > 1 else None,
        )
        self._sub = await self._js.pull_subscribe(subjects[0], stream=self._stream, config=config)

    async def _unsubscribe(self) -> None:
        sub, self._sub = self._sub, None
        if sub is None:
            return
        with contextlib.suppress(NatsError, JetStreamError, OSError):
            await sub.unsubscribe()
            await self._js.delete_consumer(self._stream, sub._consumer)

    def fold(self, messages: list[Msg]) -> None:
        """Fold a fetch's messages in as one batch (skipping those that are not, or no
        longer, ours): per-call costs are paid once per fetch, not once per message."""
        taken: list[tuple[PartitionState, int, codec.DecodedMessage]] = []
        pending = 0
        owned = self._ledger.owned
        for message in messages:
            state = owned.get(partition_of_subject(message.subject))
            if state is None:
                continue
            seq = message.metadata.sequence.stream
            if seq < state.next_seq:
                self._metrics.redeliveries.inc()
                continue
            state.next_seq = seq + 1
            try:
                taken.append((state, seq, codec.decode(message.data)))
            except codec.MessageFormatError as exc:
                log.error("skipped stream message %d: %s", seq, exc)
        if messages:
            pending = messages[-1].metadata.num_pending
            self._metrics.consumer_pending.set(pending)
        if not taken:
            return
        newest = max(decoded.accepted_at for _, _, decoded in taken)
        self._clock.advance(newest, caught_up=pending == 0)
        ledger, pipeline = self._ledger, self._pipeline
        ledger.defer()
        try:
            pipeline.ingest(_joined([decoded.batch for _, _, decoded in taken]), source="stream")
        finally:
            for state, seq, decoded in taken:
                self._record(state, seq, decoded)
            ledger.settle()
        now = time.time()
        for _, _, decoded in taken:
            self._metrics.fold_lag_seconds.observe(max(now - decoded.accepted_at, 0.0))
        self._metrics.messages_folded.inc(len(taken))

    def _record(self, state: PartitionState, seq: int, decoded: codec.DecodedMessage) -> None:
        """Bind the message's services to its partition and note which buckets it fed."""
        keys = decoded.keys
        slots, _, refused = self._pipeline.registry.lookup(
            [k[0] for k in keys], [k[1] for k in keys]
        )
        newest = np.full(len(keys), -np.inf)
        np.maximum.at(newest, decoded.key_index, decoded.batch.timestamps)
        newest_bucket = np.floor(newest / self._bucket_seconds).astype(np.int64)
        if refused:
            slots, newest_bucket = np.delete(slots, refused), np.delete(newest_bucket, refused)
        state.keys.update(keys)
        self._ledger.bind(slots, state.partition)
        state.record(seq, slots, newest_bucket)
        state.last_accepted_at = max(state.last_accepted_at, decoded.accepted_at)


def _joined(batches: list[LogBatch]) -> LogBatch:
    if len(batches) == 1:
        return batches[0]
    messages: list[str] = []
    for batch in batches:
        messages.extend(batch.messages)
    return LogBatch(
        timestamps=np.concatenate([b.timestamps for b in batches]),
        projects=[p for b in batches for p in b.projects],
        services=[s for b in batches for s in b.services],
        is_error=np.concatenate([b.is_error for b in batches]),
        durations=np.concatenate([b.durations for b in batches]),
        messages=messages,
        received=sum(b.received for b in batches),
    )
