"""The delivery worker that runs inside every agent replica.

It wakes on a NOTIFY from `tracer_alerts`, on a timer (the poll interval, or sooner when a
retry falls due), and whenever one of its own deliveries finishes (a later event for the same
thread may be waiting on it). Each round it expands new outbox events into deliveries, claims
as many due deliveries as it has free slots, and runs them concurrently. Any number of
replicas can run this loop against one database: the store's SQL keeps them apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

import asyncpg

from tracer_agent.delivery.backoff import Backoff
from tracer_agent.delivery.executor import Delivered, DeliveryExecutor, LeaseLost, Outcome, Retry
from tracer_agent.delivery.listener import AlertListener
from tracer_agent.delivery.renotify import Renotifier
from tracer_agent.delivery.store import ClaimedDelivery, DeliveryStore
from tracer_agent.metrics import AgentMetrics
from tracer_agent.routing import RoutingRules

log = logging.getLogger(__name__)

_EXPAND_BATCH = 100


class DeliveryWorker:
    def __init__(
        self,
        *,
        database_url: str,
        store: DeliveryStore,
        executor: DeliveryExecutor,
        rules: RoutingRules,
        metrics: AgentMetrics,
        worker_id: str,
        concurrency: int,
        poll_seconds: float,
        lease_seconds: float,
        backoff: Backoff,
        rng: random.Random | None = None,
        shutdown_grace: float = 5.0,
        renotifier: Renotifier | None = None,
    ) -> None:
        self._renotifier = renotifier
        self._store = store
        self._executor = executor
        self._rules = rules
        self._metrics = metrics
        self.worker_id = worker_id
        self._concurrency = concurrency
        self._poll = poll_seconds
        self._lease = lease_seconds
        self._backoff = backoff
        self._rng = rng or random.Random()
        self._shutdown_grace = shutdown_grace
        self._wake = asyncio.Event()
        self._listener = AlertListener(database_url, self._wake)
        self._running: set[asyncio.Task[None]] = set()

    @property
    def listening(self) -> asyncio.Event:
        return self._listener.connected

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled; on cancellation, in-flight deliveries get a short grace."""
        listener = asyncio.create_task(self._listener.run(), name="tracer-alert-listener")
        log.info("delivery worker %s started (%s)", self.worker_id, self._rules.source)
        try:
            while True:
                self._wake.clear()
                try:
                    await self._round()
                    timeout = await self._sleep_seconds()
                except (
                    OSError,
                    TimeoutError,
                    asyncpg.PostgresError,
                    asyncpg.InterfaceError,
                ) as exc:
                    log.warning("delivery round failed (%s); retrying", exc)
                    timeout = min(self._poll, 1.0)
                except Exception:  # a bug must not stop deliveries for good
                    log.exception("delivery round failed unexpectedly; retrying")
                    timeout = self._poll
                if not self._wake.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout)
        finally:
            listener.cancel()
            # Let calls already under way finish and be recorded; what is still running after
            # the grace period keeps its lease and attempt row, and another replica's probe
            # settles it.
            if self._running:
                await asyncio.wait(list(self._running), timeout=self._shutdown_grace)
            for task in list(self._running):
                task.cancel()
            await asyncio.gather(listener, *self._running, return_exceptions=True)

    async def _round(self) -> None:
        while True:
            expanded = await self._store.expand_events(self._rules, limit=_EXPAND_BATCH)
            if not expanded:
                break
            self._metrics.events_expanded.inc(len(expanded))
        await self._store.release_held(self._rules, limit=_EXPAND_BATCH)
        if self._renotifier is not None:
            await self._renotifier.sweep()
        free = self._concurrency - len(self._running)
        if free <= 0:
            return
        claimed = await self._store.claim(
            worker=self.worker_id, limit=free, lease_seconds=self._lease
        )
        for delivery in claimed:
            task = asyncio.create_task(self._deliver(delivery), name=f"delivery-{delivery.id}")
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()

    async def _sleep_seconds(self) -> float:
        if len(self._running) >= self._concurrency:
            return self._poll
        due = await self._store.next_due_in()
        return self._poll if due is None else max(min(due, self._poll), 0.01)

    async def _deliver(self, delivery: ClaimedDelivery) -> None:
        toolkit = delivery.destination.toolkit.value
        try:
            outcome: Outcome = await self._executor.run(delivery)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a lost database must not kill the worker
            log.exception("delivery %s failed unexpectedly", delivery.id)
            outcome = Retry(f"internal error: {type(exc).__name__}: {exc}")
        try:
            await self._record(delivery, outcome, toolkit)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # The lease will lapse and another try will find the steps already recorded.
            log.warning("could not record delivery %s (%s)", delivery.id, exc)

    async def _record(self, delivery: ClaimedDelivery, outcome: Outcome, toolkit: str) -> None:
        if isinstance(outcome, LeaseLost):
            log.warning("delivery %s: lease lost to another worker; stopping", delivery.id)
            self._metrics.deliveries.labels(toolkit, "lease_lost").inc()
            return
        if isinstance(outcome, Delivered):
            latency = await self._store.complete(
                delivery_id=delivery.id, worker=self.worker_id, result=outcome.result
            )
            if latency is not None:
                self._metrics.deliveries.labels(toolkit, "delivered").inc()
                self._metrics.delivery_latency.labels(toolkit).observe(latency)
                log.info(
                    "delivery %s (alert %s, %s, %s) delivered",
                    delivery.id, delivery.alert_id, delivery.destination.name,
                    delivery.event_kind.value,
                )  # fmt: skip
            return
        delay: float | None = None
        if not outcome.counts_as_attempt:
            delay = outcome.retry_after or self._poll
        elif outcome.retryable:
            delay = self._backoff.delay(delivery.attempts, self._rng)
            if delay is not None and outcome.retry_after is not None:
                delay = max(delay, outcome.retry_after)
        status = await self._store.fail(
            delivery_id=delivery.id,
            worker=self.worker_id,
            error=outcome.error,
            retry_in_seconds=delay,
            counts_as_attempt=outcome.counts_as_attempt,
        )
        label = "deferred" if not outcome.counts_as_attempt else (status or "lease_lost")
        self._metrics.deliveries.labels(toolkit, str(label)).inc()
        if delay is None:
            log.error(
                "delivery %s (alert %s, %s) is dead after %s attempt(s): %s",
                delivery.id, delivery.alert_id, delivery.destination.name, delivery.attempts,
                outcome.error,
            )  # fmt: skip
        elif outcome.counts_as_attempt:
            log.warning(
                "delivery %s (alert %s, %s) attempt %s failed, retry in %.1f s: %s",
                delivery.id, delivery.alert_id, delivery.destination.name, delivery.attempts,
                delay, outcome.error,
            )  # fmt: skip
