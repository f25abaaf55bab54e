"""Keeps detection off the database's critical path.

The detector calls `submit()` for every candidate and recovery; it never waits and never
fails. Items wait in a bounded in-memory buffer and a few background tasks hand them to the
alert store. While the database is unreachable the buffer holds what it can (the oldest items
first, counting what it must drop) and the tasks retry with bounded, jittered backoff, then
drain the backlog when the database is back.

Items are sharded by fingerprint, one task per shard, so the reports of one incident reach
the store in the order they were detected (a recovery never overtakes the detection before
it) while different incidents are written concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from tracer_processor.alerts.payload import numbers_only
from tracer_processor.alerts.reports import (
    AlertCandidate,
    AlertStore,
    Decision,
    Recovery,
    StoreResult,
)
from tracer_processor.alerts.retry import (
    AlertStoreError,
    InvalidAlertError,
    RefusedAlertError,
    RetryPolicy,
)

log = logging.getLogger(__name__)

Item = AlertCandidate | Recovery
ResultHook = Callable[[Item, StoreResult], None]

# Backoff of the writer between attempts while the database stays unreachable.
OUTAGE_BACKOFF = RetryPolicy(attempts=1, base_delay=0.05, max_delay=5.0)
# An item that keeps failing for an unexpected reason is dropped after this many tries.
MAX_UNEXPECTED_FAILURES = 20


@dataclass(frozen=True, slots=True)
class WriterStats:
    submitted: int
    written: int
    dropped: int
    rejected: int
    repaired: int
    unstorable: int
    retries: int
    buffered: int
    decisions: dict[Decision, int]


class AlertWriter:
    """Bounded, non-blocking hand-off from the detector to an `AlertStore`."""

    def __init__(
        self,
        store: AlertStore,
        *,
        max_buffer: int = 10_000,
        concurrency: int = 4,
        backoff: RetryPolicy = OUTAGE_BACKOFF,
        on_result: ResultHook | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if max_buffer < 1:
            raise ValueError("max_buffer must be at least 1")
        if not 1 <= concurrency <= 64:
            raise ValueError("concurrency must be between 1 and 64")
        self._store = store
        self._max_buffer = max_buffer
        self._backoff = backoff
        self._on_result = on_result
        self._rng = rng or random.Random()
        self._shards: list[deque[Item]] = [deque() for _ in range(concurrency)]
        self._lock = threading.Lock()  # submit() may be called from a detector thread
        self._buffered = 0
        self._in_flight = 0
        self._wakeups = [asyncio.Event() for _ in range(concurrency)]
        self._idle = asyncio.Event()
        self._idle.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._last_drop_log = 0.0
        self.submitted = 0
        self.written = 0  # items the store took a decision on
        self.dropped = 0  # items lost: buffer full, closed, or failing for too long
        self.rejected = 0  # items the store refused as malformed
        self.repaired = 0  # items refused for their content, stored once repaired
        self.unstorable = 0  # items refused even after repair: an incident not recorded
        self.retries = 0  # attempts repeated after the database failed
        self.decisions: Counter[Decision] = Counter()

    @property
    def buffered(self) -> int:
        return self._buffered

    def stats(self) -> WriterStats:
        return WriterStats(
            submitted=self.submitted,
            written=self.written,
            dropped=self.dropped,
            rejected=self.rejected,
            repaired=self.repaired,
            unstorable=self.unstorable,
            retries=self.retries,
            buffered=self._buffered,
            decisions=dict(self.decisions),
        )

    def submit(self, item: Item) -> None:
        """Queue a detection or recovery. Never blocks, never raises."""
        try:
            shard = self._shard_of(item)
            with self._lock:
                self.submitted += 1
                if self._closed or self._buffered >= self._max_buffer:
                    self.dropped += 1
                    self._log_drop()
                    return
                self._shards[shard].append(item)
                self._buffered += 1
            self._wake(shard)
        except Exception:  # the detector must never see the writer fail
            log.exception("could not queue an alert report")

    async def start(self) -> None:
        """Start the writer tasks on the running event loop."""
        if self._tasks:
            return
        self._loop = asyncio.get_running_loop()
        self._closed = False
        self._tasks = [
            asyncio.create_task(self._run(shard), name=f"alert-writer-{shard}")
            for shard in range(len(self._shards))
        ]
        for shard in range(len(self._shards)):
            self._wake(shard)

    async def stop(self, timeout: float) -> None:  # noqa: ASYNC109 (the lifespan passes a budget)
        """Stop taking items, flush what is buffered for up to `timeout` seconds, then stop.

        Items still buffered after the timeout are counted as dropped.
        """
        with self._lock:
            self._closed = True
        deadline = time.monotonic() + max(timeout, 0.0)
        while self._tasks and (self._buffered or self._in_flight):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._idle.clear()
            if not (self._buffered or self._in_flight):
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout=min(remaining, 0.1))
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        with self._lock:
            left = self._buffered
            for shard in self._shards:
                shard.clear()
            self._buffered = 0
            self.dropped += left
        if left:
            log.warning("alert writer stopped with %s unwritten alert report(s) dropped", left)

    def _shard_of(self, item: Item) -> int:
        try:
            return hash(item.fingerprint) % len(self._shards)
        except ValueError:  # a malformed item: the store rejects it and counts it
            return 0

    def _wake(self, shard: int) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # start() wakes every shard
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wakeups[shard].set()
        else:
            loop.call_soon_threadsafe(self._wakeups[shard].set)

    def _log_drop(self) -> None:
        now = time.monotonic()
        if now - self._last_drop_log >= 10.0:
            self._last_drop_log = now
            log.warning(
                "alert writer buffer full or closed: dropped %s alert report(s) so far",
                self.dropped,
            )

    async def _run(self, shard: int) -> None:
        queue = self._shards[shard]
        wakeup = self._wakeups[shard]
        while True:
            if not queue:
                wakeup.clear()
                if not queue:
                    await wakeup.wait()
                continue
            item = queue[0]
            self._in_flight += 1
            try:
                await self._write(item)
            finally:
                self._in_flight -= 1
            # Only a finished item leaves the buffer; one cancelled mid-write counts as dropped.
            with self._lock:
                queue.popleft()
                self._buffered -= 1
            if not (self._buffered or self._in_flight):
                self._idle.set()

    async def _write(self, item: Item) -> None:
        """Write one item, retrying while the database is unreachable; returns once decided.

        A report the database refuses for its content is repaired (its details cut down to
        their numbers) and sent again: an incident is never dropped for what its log lines
        say. Should even that be refused, the loss is counted and logged as an error.
        """
        failures = 0
        unexpected = 0
        repaired = False
        while True:
            try:
                if isinstance(item, AlertCandidate):
                    result = await self._store.report(item)
                else:
                    result = await self._store.recover(item)
            except RefusedAlertError as exc:
                if not repaired:
                    log.warning("alert report refused (%s); sending it again repaired", exc)
                    item, repaired = _repaired(item), True
                    continue
                self.unstorable += 1
                log.error(
                    "ALERT LOST: the database refused %s for %s/%s even after repair: %s",
                    type(item).__name__,
                    _printable(item.project),
                    _printable(item.service),
                    exc,
                )
                return
            except InvalidAlertError as exc:
                self.rejected += 1
                log.error("alert report rejected: %s (%r)", exc, item)
                return
            except Exception as exc:
                failures += 1
                self.retries += 1
                if not isinstance(exc, AlertStoreError):
                    unexpected += 1
                    if unexpected >= MAX_UNEXPECTED_FAILURES:
                        self.dropped += 1
                        log.error("dropping alert report after repeated errors: %r", item)
                        return
                    log.exception("unexpected error writing an alert report; will retry")
                elif failures == 1 or failures % 20 == 0:
                    log.warning("alert store unavailable (%s); keeping reports buffered", exc)
                await asyncio.sleep(self._backoff.delay(failures, self._rng))
                continue
            self.written += 1
            self.repaired += repaired
            self.decisions[result.decision] += 1
            if failures:
                log.info("alert store reachable again after %s failed attempt(s)", failures)
            if self._on_result is not None:
                try:
                    self._on_result(item, result)
                except Exception:
                    log.exception("alert result hook failed")
            return


def _printable(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode()[:200]


def _repaired(item: Item) -> Item:
    """The item with text the database cannot take removed: ASCII names, numeric details."""
    project = _printable(item.project).replace("\\", "_") or "default"
    service = _printable(item.service).replace("\\", "_") or "unknown_service"
    details = numbers_only(item.details)
    if isinstance(item, AlertCandidate):
        title = f"{item.alert_type.value} on {service}"
        return replace(item, project=project, service=service, title=title, details=details)
    return replace(item, project=project, service=service, details=details)
