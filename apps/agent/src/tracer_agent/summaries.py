"""One summary per alert event, written once and shared by every destination and replica.

The first delivery of an event that needs the summary asks tracer_ai for it (the LLM when one
is configured, the template otherwise or when the LLM fails) and stores it; every other
delivery of that event, in this process or another replica, reads the stored one, so Slack,
Jira and PagerDuty always carry the same words. Within a process concurrent requests for one
event share a single LLM call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import asyncpg

from tracer_agent.dbtypes import Db
from tracer_agent.stores.alerts import AlertStore
from tracer_agent.stores.summaries import SummaryStore
from tracer_ai.llm import LlmClient
from tracer_ai.summary import AlertContext, AlertSummary, SampleMessage, summarize_alert

log = logging.getLogger(__name__)

_SAMPLE_KEYS = ("samples", "sample_messages", "top_messages", "error_templates", "templates")
MAX_SAMPLES = 20


def samples_from_details(details: Mapping[str, Any]) -> list[SampleMessage]:
    """The sample log messages a detector left in an alert's details, in any of the shapes
    it may use: strings, or objects with a message/template and a count."""
    found: list[SampleMessage] = []
    for key in _SAMPLE_KEYS:
        value = details.get(key)
        if not isinstance(value, list):
            continue
        for item in value:
            if isinstance(item, str) and item.strip():
                found.append(SampleMessage(message=item))
            elif isinstance(item, Mapping):
                text = item.get("message") or item.get("template") or item.get("text")
                count = item.get("count", 1)
                if isinstance(text, str) and text.strip():
                    good_count = isinstance(count, int) and not isinstance(count, bool)
                    found.append(
                        SampleMessage(message=text, count=max(count, 1) if good_count else 1)
                    )
        if found:
            break
    return found[:MAX_SAMPLES]


async def load_context(db: Db, event_id: int) -> AlertContext:
    """The alert as it is now, seen through one of its events."""
    found = await AlertStore(db).at_event(event_id=event_id)
    if found is None:
        raise LookupError(f"alert event {event_id} does not exist")
    alert = found.alert
    return AlertContext(
        alert_id=alert.id,
        fingerprint=alert.fingerprint,
        project=alert.project,
        service=alert.service,
        alert_type=alert.alert_type,
        # The severity the event announced, not whatever the alert has reached since.
        severity=found.event_severity,
        status=alert.status,
        event=found.event_kind,
        actor=found.event_actor,
        incident_id=found.incident_id,
        title=alert.title,
        window_start=alert.window_start,
        window_end=alert.window_end,
        first_seen_at=alert.first_seen_at,
        last_seen_at=alert.last_seen_at,
        resolved_at=alert.resolved_at,
        occurrences=alert.occurrences,
        details={k: v for k, v in alert.details.items() if k not in _SAMPLE_KEYS},
        samples=samples_from_details(alert.details),
    )


class SummaryCache:
    def __init__(
        self, pool: asyncpg.Pool, llm: LlmClient | None, *, timeout_s: float | None = None
    ) -> None:
        self._store = SummaryStore(pool)
        self._llm = llm
        self._timeout_s = timeout_s
        self._pending: dict[int, asyncio.Task[AlertSummary]] = {}

    async def stored(self, event_id: int) -> AlertSummary | None:
        return await self._store.for_event(event_id=event_id)

    async def summary(self, ctx: AlertContext, event_id: int) -> AlertSummary:
        existing = await self.stored(event_id)
        if existing is not None:
            return existing
        task = self._pending.get(event_id)
        if task is None:
            task = asyncio.create_task(self._create(ctx, event_id))
            self._pending[event_id] = task
            task.add_done_callback(lambda _t: self._pending.pop(event_id, None))
        return await asyncio.shield(task)

    async def _create(self, ctx: AlertContext, event_id: int) -> AlertSummary:
        summary = await summarize_alert(ctx, self._llm, timeout_s=self._timeout_s)
        # First writer wins; a replica that raced us reads the same stored summary back.
        stored = await self._store.keep_first(
            event_id=event_id, alert_id=ctx.alert_id, summary=summary
        )
        if summary.fallback_reason and summary.fallback_reason != "llm_disabled":
            log.info(
                "alert %s event %s: template summary (%s)",
                ctx.alert_id,
                event_id,
                summary.fallback_reason,
            )
        return stored
