"""The processor side: one pull consumer over the subjects of the owned partitions.

The consumer starts at the lowest resume point of the owned partitions and delivers in
stream order; a message at or past its partition's next sequence is folded in through the
pipeline, anything earlier (already folded, or replayed for another partition's sake) is
skipped. Acknowledgements are not used: what is folded in is recorded in PostgreSQL with the
checkpoints (the resume point), which is what a successor continues from.
"""

from __future__ import annotations

import asyncio
import logging
import time

import numpy as np
import numpy.typing as npt
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import Error as JetStreamError

from tracer_processor.cluster import codec
from tracer_processor.cluster.clock import StreamClock
from tracer_processor.cluster.ledger import Ledger, PartitionState
from tracer_processor.cluster.metrics import ClusterMetrics
from tracer_processor.cluster.partitioning import partition_of_subject, subject_of
from tracer_processor.cluster.pull import Pulled, PullFeed
from tracer_processor.pipeline import Pipeline

log = logging.getLogger(__name__)
FETCH_MESSAGES = 512  # messages are one request's share of a partition: mostly small
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
        self._nc = nc
        self._stream = stream
        self._pipeline = pipeline
        self._ledger = ledger
        self._clock = clock
        self._metrics = metrics
        self._bucket_seconds = pipeline.detector.config.bucket_seconds
        self._feed: PullFeed | None = None
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
                if self._feed is None:
                    self._clock.caught_up()
                    self._changed.clear()
                    await self._changed.wait()
                    continue
                messages = await self._feed.fetch(FETCH_MESSAGES, POLL_SECONDS)
                if not messages:
                    self._clock.caught_up()
                    self._metrics.consumer_pending.set(0)
                    continue
                self.fold(messages)
            except (NatsError, JetStreamError, OSError) as exc:
                log.warning("consuming the log stream failed (retrying): %r", exc)
                self._stale = True
                await asyncio.sleep(POLL_SECONDS)
            except Exception:  # a bug in folding must be seen, and must not stop consuming
                log.exception("folding stream messages failed")
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
        feed = PullFeed(self._nc, self._stream)
        await feed.open(config)
        self._feed = feed

    async def _unsubscribe(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            await feed.close()

    def fold(self, messages: list[Pulled]) -> None:
        """Fold a fetch's messages in as one batch (skipping those that are not, or no
        longer, ours): per-call costs are paid once per fetch, and the bookkeeping once per
        partition of the fetch, not once per message."""
        states: list[PartitionState] = []
        seqs: list[int] = []
        payloads: list[bytes] = []
        pending = 0
        owned = self._ledger.owned
        for message in messages:
            state = owned.get(partition_of_subject(message.subject))
            if state is None:
                continue
            seq = message.sequence
            if seq < state.next_seq:
                self._metrics.redeliveries.inc()
                continue
            state.next_seq = seq + 1
            states.append(state)
            seqs.append(seq)
            payloads.append(message.data)
        if messages:
            pending = messages[-1].pending
            self._metrics.consumer_pending.set(pending)
        if not payloads:
            return
        decoded = codec.decode_many(payloads)
        for position, problem in decoded.refused:
            log.error("skipped stream message %d: %s", seqs[position], problem)
        read = len(payloads) - len(decoded.refused)
        if not read:
            return
        self._clock.advance(max(decoded.accepted_at), caught_up=pending == 0)
        ledger, pipeline = self._ledger, self._pipeline
        timestamps = decoded.batch.timestamps  # ingest drops refused rows from the batch
        ledger.defer()
        try:
            # Runs of messages from one ingest key, in stream order: each is folded in
            # with its key, for the key's service quota.
            start = 0
            senders = decoded.senders
            for position in range(len(payloads)):
                last = position + 1 == len(payloads)
                if last or senders[position + 1] != senders[position]:
                    stop = decoded.stops[position]
                    if stop > start:
                        part = decoded.part(start, stop, senders[position])
                        pipeline.ingest(part, source="stream")
                    start = stop
        finally:
            self._record(states, seqs, decoded, timestamps)
            ledger.settle()
        now = time.time()
        refused = {position for position, _ in decoded.refused}
        for position, accepted_at in enumerate(decoded.accepted_at):
            if position not in refused:
                self._metrics.fold_lag_seconds.observe(max(now - accepted_at, 0.0))
        self._metrics.messages_folded.inc(read)

    def _record(
        self,
        states: list[PartitionState],
        seqs: list[int],
        decoded: codec.DecodedMessages,
        timestamps: npt.NDArray[np.float64],
    ) -> None:
        """Per partition of the fetch: bind its services to it, and note the buckets its
        messages fed, from its first message of the fetch on (a successor resuming there
        replays a few messages more than needed, and finds their records late)."""
        groups: dict[int, int] = {}
        group_of = [groups.setdefault(id(state), len(groups)) for state in states]
        first: dict[int, tuple[PartitionState, int]] = {}
        accepted: dict[int, float] = {}
        for position, group in enumerate(group_of):
            first.setdefault(group, (states[position], seqs[position]))
            accepted[group] = max(accepted.get(group, 0.0), decoded.accepted_at[position])
        stops = np.asarray(decoded.stops, np.int64)
        sizes = stops - np.concatenate([np.zeros(1, np.int64), stops[:-1]])
        row_group = np.repeat(np.asarray(group_of, np.intp), sizes)
        order = np.argsort(row_group, kind="stable")
        bounds = np.cumsum(np.bincount(row_group, minlength=len(groups))).tolist()
        key_index = decoded.key_index
        registry, keys = self._pipeline.registry, decoded.keys
        low = 0
        for group, high in enumerate(bounds):
            state, seq = first[group]
            state.last_accepted_at = max(state.last_accepted_at, accepted[group])
            rows = order[low:high]
            low = high
            if rows.size == 0:
                continue
            used, inverse = np.unique(key_index[rows], return_inverse=True)
            newest = np.full(used.size, -np.inf)
            np.maximum.at(newest, inverse, timestamps[rows])
            newest_bucket = np.floor(newest / self._bucket_seconds).astype(np.int64)
            slots: list[int] = []
            kept: list[int] = []
            for position, index in enumerate(used.tolist()):
                slot = registry.slot_of(keys[index])
                if slot is not None:  # refused (a quota): nothing of it was folded in
                    slots.append(slot)
                    kept.append(position)
                    state.keys.add(keys[index])
            found = np.asarray(slots, np.intp)
            self._ledger.bind(found, state.partition)
            state.record(seq, found, newest_bucket[kept])
