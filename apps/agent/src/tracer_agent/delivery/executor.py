"""Carry out one claimed delivery: summary, plan, rate-limit slot, then each step's tool call.

No transaction or lock is held while a destination is called. Before each call the lease is
renewed (a worker that lost its lease stops) and an attempt row carrying the step's marker is
committed; the answer is recorded right after. When an earlier call's fate is unknown (its
worker died, or it timed out), the step's probe searches the destination for the marker
first, so a crash between "sent" and "recorded" does not send twice. A probe that fails or
whose answer cannot be read leaves the outcome uncertain: the delivery is retried with
backoff and ends as a dead letter naming the reason, never sent again blindly (except for
steps whose duplicates are harmless).

Webhook destinations go through the same steps, journal, rate limits and retries; only their
calls are plain HTTP POSTs (`delivery.webhook`) instead of MCP tool calls.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg
import httpx

from tracer_agent.delivery.journal import DeliveryJournal, Thread
from tracer_agent.delivery.links import MessageLinks
from tracer_agent.delivery.plans import opened_thread, plan
from tracer_agent.delivery.store import ClaimedDelivery, DeliveryStore
from tracer_agent.delivery.webhook import WebhookCaller, WebhookSecretError, webhook_secret
from tracer_agent.metrics import AgentMetrics
from tracer_agent.stores.rate_limits import RateLimits
from tracer_agent.summaries import SummaryCache, load_context
from tracer_agent.toolboxes import Toolboxes
from tracer_ai.destinations.base import Skip, Step, UnreadableAnswerError
from tracer_ai.errors import TracerAiError
from tracer_ai.mcp_toolbox import McpToolbox, ToolResult
from tracer_ai.summary import AlertContext
from tracer_ai.tool_call import ToolCall
from tracer_core.models import Toolkit

log = logging.getLogger(__name__)

# Waiting for a rate-limit slot inline keeps latency low; longer waits free the worker.
MAX_INLINE_WAIT_SECONDS = 2.0
RATE_LIMIT_RETRY_SECONDS = 30.0
# Words of a rate-limit answer; "429" only as a whole number (a URL's port such as :42985
# in an error message is not one).
_RATE_LIMIT_HINT = re.compile(r"ratelimited|rate_limited|rate limit|too many requests|\b429\b")


class AppToolCaller(Protocol):
    """What makes a step's call: the MCP toolbox, or the webhook caller."""

    async def call_app_tool(
        self,
        call: ToolCall,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-call deadline, as the toolbox's
    ) -> ToolResult: ...


@dataclass(frozen=True)
class Delivered:
    result: dict[str, Any]


@dataclass(frozen=True)
class Retry:
    error: str
    retryable: bool = True
    retry_after: float | None = None
    counts_as_attempt: bool = True


@dataclass(frozen=True)
class LeaseLost:
    pass


Outcome = Delivered | Retry | LeaseLost


class DeliveryExecutor:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        store: DeliveryStore,
        summaries: SummaryCache,
        toolboxes: Toolboxes,
        metrics: AgentMetrics,
        routing_user_id: str,
        worker_id: str,
        lease_seconds: float,
        call_timeout_s: float,
        links: MessageLinks | None = None,
    ) -> None:
        self._links = links
        self._pool = pool
        self._store = store
        self._journal = DeliveryJournal(pool)
        self._limits = RateLimits(pool)
        self._summaries = summaries
        self._toolboxes = toolboxes
        self._metrics = metrics
        self._user = routing_user_id
        self._worker = worker_id
        self._lease = lease_seconds
        self._timeout = call_timeout_s

    async def run(self, delivery: ClaimedDelivery) -> Outcome:
        ctx = await load_context(self._pool, delivery.event_id)
        if self._links is not None:
            ctx = self._links.annotate(ctx)
        summary = await self._summaries.summary(ctx, delivery.event_id)
        thread = await self._journal.thread(
            alert_id=delivery.alert_id, destination=delivery.destination.name
        )
        try:
            planned = plan(delivery, ctx, summary, thread)
        except ValueError as exc:  # the destination's settings cannot be rendered
            return Retry(f"cannot build the message: {exc}", retryable=False)
        base = {"summary_source": summary.source, "event": ctx.event.value}
        if isinstance(planned, Skip):
            return Delivered({**base, "skipped": planned.reason})
        destination = delivery.destination
        secret: str | None = None
        if destination.toolkit is Toolkit.WEBHOOK:
            try:
                secret = webhook_secret(destination)
            except WebhookSecretError as exc:
                return Retry(str(exc), retryable=False)
        wait = await self._limits.reserve_slot(
            destination=destination.name,
            per_minute=destination.effective_rate_per_minute,
            burst=destination.burst,
        )
        if wait > MAX_INLINE_WAIT_SECONDS:
            await self._limits.release_slot(
                destination=destination.name, per_minute=destination.effective_rate_per_minute
            )
            return Retry("waiting for the destination's rate limit", retry_after=wait,
                         counts_as_attempt=False)  # fmt: skip
        if wait > 0:
            await asyncio.sleep(wait)
        if destination.toolkit is Toolkit.WEBHOOK:
            async with httpx.AsyncClient(follow_redirects=False) as client:
                caller = WebhookCaller(client, secret)
                return await self._run_steps(delivery, ctx, planned, caller, base, thread)
        try:
            box = await self._toolboxes.for_user(self._user)
        except TracerAiError as exc:
            return Retry(f"cannot reach the tool router: {exc}", retryable=True)
        return await self._run_steps(delivery, ctx, planned, box, base, thread)

    async def _run_steps(
        self,
        delivery: ClaimedDelivery,
        ctx: AlertContext,
        steps: list[Step],
        box: AppToolCaller,
        base: dict[str, Any],
        thread: Thread | None,
    ) -> Outcome:
        history = await self._journal.history(delivery_id=delivery.id)
        done: dict[str, Any] = {**(delivery.result.get("steps") or {}), **history.done}
        started = time.monotonic()
        for step in steps:
            if step.name in done:
                continue
            # Renewed before every call but the first, which follows the claim at once.
            if time.monotonic() - started > self._lease / 4 and not await self._store.renew_lease(
                delivery_id=delivery.id, worker=self._worker, lease_seconds=self._lease
            ):
                return LeaseLost()
            result: dict[str, Any] | None = None
            attempt: int | None = None
            if step.name in history.uncertain and step.probe is not None:
                probed = await self._probe(delivery, step, box, history.uncertain[step.name])
                if isinstance(probed, Retry):
                    return probed
                result = probed
            if result is None:
                answer = await self._call(delivery, step, box)
                if isinstance(answer, Retry):
                    return answer
                attempt, result = answer
            new_thread = opened_thread(delivery, ctx, result) if step.opens_thread else None
            held = await self._journal.record_step(
                delivery_id=delivery.id, worker=self._worker, step=step.name, result=result,
                thread=new_thread, attempt_id=attempt,
            )  # fmt: skip
            if not held:
                return LeaseLost()
            done[step.name] = result
            thread = new_thread or thread
        final: dict[str, Any] = {**base, "steps": done}
        for value in done.values():
            final.update({k: v for k, v in value.items() if v is not None and k != "found"})
        if thread is not None:
            final["thread_ref"] = thread.thread_ref
        return Delivered(final)

    async def _call(
        self, delivery: ClaimedDelivery, step: Step, box: AppToolCaller
    ) -> tuple[int, dict[str, Any]] | Retry:
        attempt = await self._journal.start_attempt(
            delivery_id=delivery.id,
            step=step.name,
            marker=step.marker,
            tool=step.call.slug,
            worker=self._worker,
        )
        answer = await box.call_app_tool(step.call, timeout=self._timeout)
        if not answer.ok:
            await self._journal.record_failure(
                attempt_id=attempt,
                error=answer.error or "failed",
                error_kind=answer.error_kind or "unknown",
            )
            if answer.error_kind == "transport" and isinstance(box, McpToolbox):
                await self._toolboxes.reset(self._user)
            return _retry_for(step, answer)
        try:
            return attempt, step.read(answer.structured)
        except UnreadableAnswerError as exc:
            # It was sent; sending again would duplicate it. Record what we have.
            log.warning("delivery %s %s: %s", delivery.id, step.name, exc)
            return attempt, {"unreadable_answer": str(exc)}

    async def _probe(
        self,
        delivery: ClaimedDelivery,
        step: Step,
        box: AppToolCaller,
        lost_call_started: datetime,
    ) -> dict[str, Any] | Retry | None:
        """What the lost call left: found (its result), None (not there: send it), or a
        Retry when the probe cannot tell."""
        assert step.probe is not None
        probe = step.probe(lost_call_started)
        answer = await box.call_app_tool(probe.call, timeout=self._timeout)
        reason: str | None = None
        found: dict[str, Any] | None = None
        if not answer.ok:
            reason = f"{probe.call.slug} failed: {answer.error or answer.error_kind}"
        else:
            try:
                found = probe.find(answer.structured, step.marker)
            except UnreadableAnswerError as exc:
                reason = f"{probe.call.slug} answer unreadable: {exc}"
        if reason is not None:
            self._metrics.probes.labels("uncertain").inc()
            if step.duplicate_harmless:
                log.warning("delivery %s: %s; sending %s again", delivery.id, reason, step.name)
                return None
            log.warning(
                "delivery %s: cannot tell whether step %s arrived (%s); not sending it again",
                delivery.id, step.name, reason,
            )  # fmt: skip
            return Retry(f"uncertain whether step {step.name} arrived: {reason}")
        self._metrics.probes.labels("found" if found is not None else "not_found").inc()
        log.info(
            "delivery %s: the lost call of step %s was %s", delivery.id, step.name,
            "found" if found is not None else "not found; sending it",
        )  # fmt: skip
        if found is None:
            await self._journal.record_not_found(delivery_id=delivery.id, step=step.name)
            return None
        return {**found, "found": True}


def _retry_for(step: Step, answer: ToolResult) -> Retry:
    error = f"{step.call.slug}: {answer.error or answer.error_kind}"
    if answer.error_kind == "rejected":
        return Retry(error, retryable=False)
    lowered = (answer.error or "").lower()
    if _RATE_LIMIT_HINT.search(lowered):
        return Retry(error, retry_after=RATE_LIMIT_RETRY_SECONDS)
    return Retry(error)
