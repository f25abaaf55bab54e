"""The incident tools the chat model may call, answered from Tracer's own tables (through the
stores).

Each tool returns plain JSON-able data with alert ids on every alert, so the model can cite
them and the API can report which alerts an answer drew on. Results are bounded (limits,
truncated texts) so that one tool call cannot flood the model's context.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tracer_agent.stores.alerts import AlertStore
from tracer_agent.stores.deliveries import DeliveryRecords
from tracer_agent.stores.incidents import IncidentStore
from tracer_agent.stores.rollups import RollupStore
from tracer_agent.stores.summaries import SummaryStore
from tracer_agent.summaries import samples_from_details

MAX_ROWS = 50
MAX_HISTORY_HOURS = 7 * 24  # the rollups' default retention


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
    def __init__(self, pool: asyncpg.Pool, *, lookback_hours: float = 24.0) -> None:
        self._incidents = IncidentStore(pool)
        self._lookback = timedelta(hours=lookback_hours)
        self._alerts = AlertStore(pool)
        self._deliveries = DeliveryRecords(pool)
        self._summaries = SummaryStore(pool)
        self._rollups = RollupStore(pool)

    async def list_alerts(self, status: str = "open", service: str | None = None,
                          limit: int = 20) -> dict[str, Any]:  # fmt: skip
        wanted = status if status in ("open", "resolved") else None
        alerts = await self._alerts.recent(
            status=wanted, service=service or None, limit=_limit(limit)
        )
        return {"alerts": [_plain(a.overview()) for a in alerts], "count": len(alerts)}

    async def recent_incidents(self, service: str | None = None) -> dict[str, Any]:
        """Incidents open now or during the lookback (open or resolved), with their alerts and
        timelines, so a question asked just after a short incident answers from it."""
        since = datetime.now(UTC) - self._lookback
        found = await self._incidents.list_incidents(
            status=None, service=service or None, since=since, limit=10
        )
        incidents = []
        for incident in found:
            detail = await self._incidents.get(incident_id=incident.id)
            if detail is None:
                continue
            item = detail.model_dump(exclude={"deliveries"})
            item["events"] = item["events"][-MAX_ROWS:]
            incidents.append(item)
        return _json(
            {
                "incidents": incidents,
                "count": len(incidents),
                "since": since,
            }
        )

    async def search_alerts(self, query: str, limit: int = 20) -> dict[str, Any]:
        words = [w for w in str(query).lower().split() if len(w) > 1][:8]
        if not words:
            return {"alerts": [], "count": 0, "note": "give at least one search word"}
        alerts = await self._alerts.search(words=words, limit=_limit(limit))
        return {"alerts": [_plain(a.overview()) for a in alerts], "count": len(alerts)}

    async def get_alert(self, alert_id: int) -> dict[str, Any]:
        try:
            wanted = int(alert_id)
        except (TypeError, ValueError):
            return {"error": f"alert_id must be a number, got {alert_id!r}"}
        alert = await self._alerts.get(alert_id=wanted)
        if alert is None:
            return {"error": f"alert {wanted} does not exist"}
        events = await self._alerts.events(alert_id=wanted)
        deliveries = await self._deliveries.overview_for_alert(alert_id=wanted)
        summary = await self._summaries.latest_for_alert(alert_id=wanted)
        samples = samples_from_details(alert.details)
        return _json(
            {
                **alert.overview(),
                "fingerprint": alert.fingerprint,
                "reporters": alert.reporters,
                "details": {k: v for k, v in alert.details.items() if not isinstance(v, list)},
                "recent_error_messages": [
                    {"message": s.message[:300], "count": s.count} for s in samples[:10]
                ],
                "events": [asdict(e) for e in events],
                "deliveries": [asdict(d) for d in deliveries],
                "summary": summary,
            }
        )

    async def service_stats(self, service: str | None = None) -> dict[str, Any]:
        services = []
        for stats in await self._alerts.service_stats(service=service or None, limit=MAX_ROWS):
            item = asdict(stats)
            latest = item.pop("latest_details")
            item["latest_baseline"] = {
                k: v for k, v in latest.items()
                if k in ("observed", "baseline_mean", "baseline_std", "z_score", "metric", "unit")
            }  # fmt: skip
            services.append(item)
        return _json({"services": services, "count": len(services)})

    async def service_history(
        self, service: str, from_hours_ago: int = 24, to_hours_ago: int = 0
    ) -> dict[str, Any]:
        """Hourly traffic, errors, error rate and p95 of a service from the minute rollups."""
        start = max(0, min(int(from_hours_ago), MAX_HISTORY_HOURS))
        end = max(0, min(int(to_hours_ago), start))
        now = datetime.now(UTC)
        hours = await self._rollups.hourly(
            service=str(service),
            since=now - timedelta(hours=start),
            until=now - timedelta(hours=end),
        )
        return _json({"service": service, "hours": hours, "count": len(hours)})


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
            "recent_incidents",
            "Incidents (groups of alerts of one service) open now or during the last day, "
            "open or resolved, each with its alerts and timeline (opened, alerts added, "
            "acknowledged, resolved). Use it first for 'what is wrong with <service>?'.",
            {"type": "object", "properties": {"service": text}},
            tools.recent_incidents,
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
        IncidentTool(
            "service_history",
            "A service's traffic, errors, error rate (0-1), max p95 latency and anomalous "
            "minutes per hour, from from_hours_ago to to_hours_ago (yesterday: 48 to 24; at "
            "most 168 hours back).",
            {"type": "object", "properties": {
                "service": text, "from_hours_ago": {"type": "integer", "minimum": 1,
                                                    "maximum": MAX_HISTORY_HOURS},
                "to_hours_ago": {"type": "integer", "minimum": 0}},
             "required": ["service"]},
            tools.service_history,
        ),
    ]  # fmt: skip
