"""The incident tools the chat model may call, answered from Tracer's own tables.

Each tool returns plain JSON-able data with alert ids on every alert, so the model can cite
them and the API can report which alerts an answer drew on. Results are bounded (limits,
truncated texts) so that one tool call cannot flood the model's context.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from tracer_agent.summaries import samples_from_details

MAX_ROWS = 50

_ALERT_COLUMNS = """
    a.id, a.project, a.service, a.alert_type, a.severity, a.status, a.title, a.window_start,
    a.window_end, a.first_seen_at, a.last_seen_at, a.resolved_at, a.occurrences
"""


def _json(value: dict[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = _plain(value)
    return plain


def _plain(value: Any) -> Any:
    """JSON-safe: datetimes as ISO text, non-finite numbers dropped."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _limit(value: Any, default: int = 20) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return max(1, min(number, MAX_ROWS))


class IncidentTools:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def list_alerts(self, status: str = "open", service: str | None = None,
                          limit: int = 20) -> dict[str, Any]:  # fmt: skip
        wanted = status if status in ("open", "resolved") else None
        rows = await self._pool.fetch(
            f"""
            SELECT {_ALERT_COLUMNS} FROM alerts a
            WHERE ($1::text IS NULL OR a.status = $1)
              AND ($2::text IS NULL OR lower(a.service) = lower($2))
            ORDER BY a.last_seen_at DESC LIMIT $3
            """,
            wanted,
            service or None,
            _limit(limit),
        )
        return {"alerts": [_plain(dict(r)) for r in rows], "count": len(rows)}

    async def search_alerts(self, query: str, limit: int = 20) -> dict[str, Any]:
        words = [w for w in str(query).lower().split() if len(w) > 1][:8]
        if not words:
            return {"alerts": [], "count": 0, "note": "give at least one search word"}
        rows = await self._pool.fetch(
            f"""
            SELECT {_ALERT_COLUMNS} FROM alerts a
            WHERE (SELECT bool_or(
                       strpos(lower(a.service || ' ' || a.title || ' ' || a.alert_type || ' '
                                    || a.project || ' ' || a.details::text), w) > 0)
                   FROM unnest($1::text[]) AS w)
            ORDER BY (a.status = 'open') DESC, a.last_seen_at DESC LIMIT $2
            """,
            words,
            _limit(limit),
        )
        return {"alerts": [_plain(dict(r)) for r in rows], "count": len(rows)}

    async def get_alert(self, alert_id: int) -> dict[str, Any]:
        try:
            wanted = int(alert_id)
        except (TypeError, ValueError):
            return {"error": f"alert_id must be a number, got {alert_id!r}"}
        row = await self._pool.fetchrow(
            f"SELECT {_ALERT_COLUMNS}, a.fingerprint, a.details, a.reporters "
            "FROM alerts a WHERE a.id = $1",
            wanted,
        )
        if row is None:
            return {"error": f"alert {wanted} does not exist"}
        alert = dict(row)
        details = alert.pop("details") or {}
        events = await self._pool.fetch(
            "SELECT kind, severity, created_at FROM alert_events WHERE alert_id = $1 ORDER BY id",
            wanted,
        )
        deliveries = await self._pool.fetch(
            """
            SELECT d.destination, d.toolkit, d.status, d.attempts, d.last_error,
                   d.result ->> 'thread_ref' AS thread_ref, e.kind AS event
            FROM deliveries d JOIN alert_events e ON e.id = d.event_id
            WHERE d.alert_id = $1 ORDER BY d.id
            """,
            wanted,
        )
        summary = await self._pool.fetchval(
            "SELECT summary FROM alert_summaries WHERE alert_id = $1 "
            "ORDER BY event_id DESC LIMIT 1",
            wanted,
        )
        samples = samples_from_details(details)
        return _json(
            {
                **alert,
                "details": {k: v for k, v in details.items() if not isinstance(v, list)},
                "recent_error_messages": [
                    {"message": s.message[:300], "count": s.count} for s in samples[:10]
                ],
                "events": [dict(e) for e in events],
                "deliveries": [dict(d) for d in deliveries],
                "summary": summary,
            }
        )

    async def service_stats(self, service: str | None = None) -> dict[str, Any]:
        rows = await self._pool.fetch(
            """
            SELECT a.service,
                   count(*) FILTER (WHERE a.status = 'open') AS open_alerts,
                   count(*) FILTER (WHERE a.first_seen_at > now() - interval '24 hours')
                       AS alerts_last_24h,
                   count(*) AS alerts_total,
                   max(a.last_seen_at) AS last_alert_at,
                   array_agg(DISTINCT a.alert_type) AS alert_types,
                   (array_agg(a.id ORDER BY a.last_seen_at DESC))[1] AS latest_alert_id,
                   (array_agg(a.details ORDER BY a.last_seen_at DESC))[1] AS latest_details
            FROM alerts a
            WHERE $1::text IS NULL OR lower(a.service) = lower($1)
            GROUP BY a.service ORDER BY open_alerts DESC, last_alert_at DESC LIMIT $2
            """,
            service or None,
            MAX_ROWS,
        )
        services = []
        for row in rows:
            item = dict(row)
            latest = item.pop("latest_details") or {}
            item["latest_baseline"] = {
                k: v for k, v in latest.items()
                if k in ("observed", "baseline_mean", "baseline_std", "z_score", "metric", "unit")
            }  # fmt: skip
            services.append(item)
        return _json({"services": services, "count": len(services)})


@dataclass(frozen=True)
class IncidentTool:
    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[..., Awaitable[dict[str, Any]]]


def incident_tools(tools: IncidentTools) -> list[IncidentTool]:
    text = {"type": "string"}
    count = {"type": "integer", "minimum": 1, "maximum": MAX_ROWS}
    return [
        IncidentTool(
            "list_alerts",
            "List Tracer alerts, most recent first. status: open (default), resolved or all.",
            {"type": "object", "properties": {
                "status": {"type": "string", "enum": ["open", "resolved", "all"]},
                "service": text, "limit": count}},
            tools.list_alerts,
        ),
        IncidentTool(
            "search_alerts",
            "Find alerts whose service, title, type or details mention any of the words.",
            {"type": "object", "properties": {"query": text, "limit": count},
             "required": ["query"]},
            tools.search_alerts,
        ),
        IncidentTool(
            "get_alert",
            "One alert in full: numbers against its baseline, recent error messages, its "
            "events, where it was delivered (Slack thread, Jira issue, PagerDuty) and summary.",
            {"type": "object", "properties": {"alert_id": {"type": "integer"}},
             "required": ["alert_id"]},
            tools.get_alert,
        ),
        IncidentTool(
            "service_stats",
            "Per-service alert counts (open, last 24 h, total), alert types and the latest "
            "observed value against its baseline. Omit service for all services.",
            {"type": "object", "properties": {"service": text}},
            tools.service_stats,
        ),
    ]  # fmt: skip
