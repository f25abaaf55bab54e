"""What the incident and service pages show, assembled from the stores: pure reads, no SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from markupsafe import Markup

from tracer_agent.console.charts import Sample, line_chart, sparkline
from tracer_agent.stores.alerts import AlertRow, AlertStore
from tracer_agent.stores.deliveries import DeliveryRecord, DeliveryRecords
from tracer_agent.stores.rollups import RollupPoint, RollupStore
from tracer_agent.stores.summaries import SummaryStore
from tracer_agent.summaries import samples_from_details
from tracer_core.models import AlertType

CHART_MARGIN = timedelta(minutes=30)
_LINK_KEYS = ("permalink", "html_url", "browser_url", "url", "link", "self")
METRIC_OF_TYPE = {
    AlertType.ERROR_SPIKE: "error_rate",
    AlertType.HIGH_LATENCY: "p95",
    AlertType.TRAFFIC_DROP: "count",
    AlertType.TRAFFIC_SPIKE: "count",
    AlertType.SERVICE_DOWN: "count",
}
METRIC_TITLES = {"count": "Requests per minute", "error_rate": "Error rate", "p95": "p95 latency"}
METRIC_UNITS = {"count": "", "error_rate": "%", "p95": "ms"}


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    what: str
    detail: str = ""
    link: str | None = None
    delivery_id: int | None = None
    dead: bool = False


@dataclass
class IncidentView:
    alert: AlertRow
    timeline: list[TimelineEntry]
    chart: Markup
    chart_points: int
    templates: list[tuple[str, int]]
    summary: dict[str, Any] | None
    deliveries: list[DeliveryRecord] = field(default_factory=list)


def samples(points: list[RollupPoint], metric: str) -> list[Sample]:
    """Chart samples of one metric from minute rollups."""
    made = []
    for p in points:
        if metric == "count":
            made.append(Sample(p.minute, float(p.count), p.count_mean, p.count_std, p.anomalous))
        elif metric == "error_rate":
            made.append(
                Sample(
                    p.minute,
                    p.error_rate if p.count else None,
                    p.error_rate_mean,
                    p.error_rate_std,
                    p.anomalous,
                )
            )
        else:
            made.append(Sample(p.minute, p.p95_ms, p.p95_mean, p.p95_std, p.anomalous))
    return made


def delivery_link(record: DeliveryRecord) -> str | None:
    """A browser link to the Slack message, Jira issue or PagerDuty incident, when the
    destination's answer carried one."""
    for key in _LINK_KEYS:
        value = record.result.get(key)
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            return value
    return None


def _timeline(
    alert: AlertRow, events: list[Any], deliveries: list[DeliveryRecord]
) -> list[TimelineEntry]:
    entries = [TimelineEntry(alert.first_seen_at, "opened", alert.title)]
    for event in events:
        if event.kind in ("opened", "resolved"):  # shown from the alert itself
            continue
        entries.append(TimelineEntry(event.created_at, event.kind, f"severity {event.severity}"))
    for d in deliveries:
        ref = d.result.get("thread_ref") or d.result.get("external_id")
        detail = f"{d.status.value} after {d.attempts} attempt(s)"
        if ref:
            detail += f" · {ref}"
        if d.last_error and d.status.value != "delivered":
            detail += f" · {d.last_error}"
        entries.append(
            TimelineEntry(
                d.delivered_at or d.updated_at,
                f"delivery to {d.destination} ({d.toolkit.value})",
                detail,
                link=delivery_link(d),
                delivery_id=d.id,
                dead=d.status.value in ("dead", "failed"),
            )
        )
    if alert.resolved_at is not None:
        entries.append(TimelineEntry(alert.resolved_at, "resolved"))
    return sorted(entries, key=lambda e: e.at)


async def incident_view(pool: asyncpg.Pool, alert_id: int) -> IncidentView | None:
    alerts = AlertStore(pool)
    alert = await alerts.get(alert_id=alert_id)
    if alert is None:
        return None
    events = await alerts.events(alert_id=alert_id)
    deliveries = await DeliveryRecords(pool).for_alert(alert_id=alert_id)
    summary = await SummaryStore(pool).latest_for_alert(alert_id=alert_id)
    # Event time throughout (a replayed incident resolves long after its window).
    start = alert.window_start - CHART_MARGIN
    end = alert.window_end + CHART_MARGIN
    points = await RollupStore(pool).series(
        service=alert.service, project=alert.project, since=start, until=end
    )
    metric = METRIC_OF_TYPE[alert.alert_type]
    chart_samples = samples(points, metric)
    chart = line_chart(
        chart_samples,
        title=f"{METRIC_TITLES[metric]} of {alert.service} around the incident",
        unit=METRIC_UNITS[metric],
        start=start,
        end=end,
        highlight=(alert.window_start, alert.window_end if alert.resolved_at else None),
    )
    templates = [(s.message, s.count) for s in samples_from_details(alert.details)]
    return IncidentView(
        alert=alert,
        timeline=_timeline(alert, events, deliveries),
        chart=chart,
        chart_points=sum(1 for s in chart_samples if s.value is not None),
        templates=templates,
        summary=summary,
        deliveries=deliveries,
    )


@dataclass(frozen=True, slots=True)
class ServiceLine:
    service: str
    traffic: Markup
    errors: Markup
    latency: Markup
    last: RollupPoint
    open_alerts: int


def service_lines(
    series: dict[str, list[RollupPoint]], open_by_service: dict[str, int]
) -> list[ServiceLine]:
    lines = []
    for service, points in series.items():
        lines.append(
            ServiceLine(
                service=service,
                traffic=sparkline([float(p.count) for p in points], label=f"{service} traffic"),
                errors=sparkline([p.error_rate for p in points], label=f"{service} error rate"),
                latency=sparkline([p.p95_ms for p in points], label=f"{service} p95 latency"),
                last=points[-1],
                open_alerts=open_by_service.get(service, 0),
            )
        )
    return sorted(lines, key=lambda line: (-line.open_alerts, line.service))


def service_charts(
    points: list[RollupPoint], service: str, start: datetime, end: datetime
) -> list[Markup]:
    return [
        line_chart(
            samples(points, metric),
            title=f"{METRIC_TITLES[metric]} of {service}, last 24 hours",
            unit=METRIC_UNITS[metric],
            start=start,
            end=end,
        )
        for metric in ("count", "error_rate", "p95")
    ]
