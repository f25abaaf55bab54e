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

from tracer_agent.dbtypes import Conn
from tracer_ai.llm import LlmClient
from tracer_ai.summary import AlertContext, AlertSummary, SampleMessage, summarize_alert
from tracer_core.models import AlertEventKind

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


async def load_context(conn: asyncpg.Pool | Conn, event_id: int) -> AlertContext:
    """The alert as it is now, seen through one of its events."""
    row = await conn.fetchrow(
        """
        SELECT a.*, e.kind AS event_kind, e.severity AS event_severity
        FROM alert_events e JOIN alerts a ON a.id = e.alert_id WHERE e.id = $1
        """,
        event_id,
    )
    if row is None:
        raise LookupError(f"alert event {event_id} does not exist")
    details = row["details"] if isinstance(row["details"], dict) else {}
    return AlertContext(
        alert_id=row["id"],
        fingerprint=row["fingerprint"],
        project=row["project"],
        service=row["service"],
        alert_type=row["alert_type"],
        # The severity the event announced, not whatever the alert has reached since.
        severity=row["event_severity"],
        status=row["status"],
        event=AlertEventKind(row["event_kind"]),
        title=row["title"],
        window_start=row["window_start"],
        window_end=row["window_end"],
        first_seen_at=row["first_seen_at"],
        last_seen_at=row["last_seen_at"],
        resolved_at=row["resolved_at"],
        occurrences=row["occurrences"],
        details={k: v for k, v in details.items() if k not in _SAMPLE_KEYS},
        samples=samples_from_details(details),
    )


class SummaryCache:
    def __init__(
        self, pool: asyncpg.Pool, llm: LlmClient | None, *, timeout_s: float | None = None
    ) -> None:
        self._pool = pool
        self._llm = llm
        self._timeout_s = timeout_s
        self._pending: dict[int, asyncio.Task[AlertSummary]] = {}

    async def stored(self, event_id: int) -> AlertSummary | None:
        row = await self._pool.fetchrow(
            "SELECT summary FROM alert_summaries WHERE event_id = $1", event_id
        )
        return None if row is None else AlertSummary.model_validate(row["summary"])

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
        row = await self._pool.fetchrow(
            """
            WITH inserted AS (
                INSERT INTO alert_summaries
                    (event_id, alert_id, source, model, fallback_reason, summary)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (event_id) DO NOTHING
                RETURNING summary
            )
            SELECT summary FROM inserted
            UNION ALL SELECT summary FROM alert_summaries WHERE event_id = $1
            LIMIT 1
            """,
            event_id,
            ctx.alert_id,
            summary.source,
            summary.model,
            summary.fallback_reason,
            summary.model_dump(mode="json"),
        )
        assert row is not None
        if summary.fallback_reason and summary.fallback_reason != "llm_disabled":
            log.info(
                "alert %s event %s: template summary (%s)",
                ctx.alert_id,
                event_id,
                summary.fallback_reason,
            )
        return AlertSummary.model_validate(row["summary"])
