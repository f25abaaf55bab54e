"""What the incident and service pages show, assembled from the stores: pure reads, no SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from markupsafe import Markup

from tracer_agent.console.charts import Sample, line_chart, sparkline
from tracer_agent.stores.alerts import AlertRow, AlertStore
from tracer_agent.stores.deliveries import DeliveryRecord, DeliveryRecords
from tracer_agent.stores.incidents import IncidentDetail, IncidentStore
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
    incident: IncidentDetail
    alerts: list[AlertRow]
    timeline: list[TimelineEntry]
    chart: Markup
    chart_points: int
    templates: list[tuple[str, int]]
    summary: dict[str, Any] | None
    silenced: bool

    @property
    def main_alert(self) -> AlertRow:
        return self.alerts[0]


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


_EVENT_WORDS = {
    "opened": "opened",
    "alert_added": "alert grouped in",
    "alert_reopened": "alert reopened",
    "reopened": "reopened",
    "resolved": "resolved (all alerts recovered)",
    "acknowledged": "acknowledged",
    "unacknowledged": "acknowledgement withdrawn",
    "manually_resolved": "resolved by hand",
    "renotified": "re-notified (not acknowledged in time)",
}


def _timeline(
    detail: IncidentDetail, alerts: dict[int, AlertRow], deliveries: list[DeliveryRecord]
) -> list[TimelineEntry]:
    entries = []
    for event in detail.events:
        text = []
        if event.alert_id is not None and event.alert_id in alerts:
            alert = alerts[event.alert_id]
            text.append(f"{alert.alert_type.value} ({alert.severity.value}): {alert.title}")
        if event.actor:
            text.append(f"by {event.actor}")
        entries.append(
            TimelineEntry(
                event.created_at, _EVENT_WORDS.get(event.kind, event.kind), " ".join(text)
            )
        )
    for d in deliveries:
        ref = d.result.get("thread_ref") or d.result.get("external_id")
        detail_text = f"{d.status.value} after {d.attempts} attempt(s)"
        if ref:
            detail_text += f" · {ref}"
        if d.last_error and d.status.value != "delivered":
            detail_text += f" · {d.last_error}"
        entries.append(
            TimelineEntry(
                d.delivered_at or d.updated_at,
                f"delivery to {d.destination} ({d.toolkit.value})",
                detail_text,
                link=delivery_link(d),
                delivery_id=d.id,
                dead=d.status.value in ("dead", "failed"),
            )
        )
    return sorted(entries, key=lambda e: e.at)


async def incident_view(pool: asyncpg.Pool, incident_id: int) -> IncidentView | None:
    detail = await IncidentStore(pool).get(incident_id=incident_id)
    if detail is None or not detail.alerts:
        return None
    by_id = await AlertStore(pool).get_many(alert_ids=[a.id for a in detail.alerts])
    alerts = [by_id[a.id] for a in detail.alerts if a.id in by_id]
    records = DeliveryRecords(pool)
    deliveries = [d for a in alerts for d in await records.for_alert(alert_id=a.id)]
    main = alerts[0]
    summary = await SummaryStore(pool).latest_for_alert(alert_id=main.id)
    # Event time throughout (a replayed incident resolves long after its window).
    start = min(a.window_start for a in alerts) - CHART_MARGIN
    last = max(a.window_end for a in alerts)
    end = last + CHART_MARGIN
    points = await RollupStore(pool).series(
        service=main.service, project=main.project, since=start, until=end
    )
    metric = METRIC_OF_TYPE[main.alert_type]
    chart_samples = samples(points, metric)
    chart = line_chart(
        chart_samples,
        title=f"{METRIC_TITLES[metric]} of {main.service} around the incident",
        unit=METRIC_UNITS[metric],
        start=start,
        end=end,
        highlight=(start + CHART_MARGIN, last if detail.status == "resolved" else None),
    )
    templates = [(s.message, s.count) for a in alerts for s in samples_from_details(a.details)]
    return IncidentView(
        incident=detail,
        alerts=alerts,
        timeline=_timeline(detail, by_id, deliveries),
        chart=chart,
        chart_points=sum(1 for s in chart_samples if s.value is not None),
        templates=sorted(templates, key=lambda t: -t[1])[:10],
        summary=summary,
        silenced=any(a.silenced_by is not None and a.status == "open" for a in detail.alerts),
    )


@dataclass(frozen=True, slots=True)
class ServiceLine:
    project: str
    service: str
    traffic: Markup
    errors: Markup
    latency: Markup
    last: RollupPoint
    open_alerts: int


def service_lines(
    series: dict[tuple[str, str], list[RollupPoint]], open_by_service: dict[str, int]
) -> list[ServiceLine]:
    lines = []
    for (project, service), points in series.items():
        lines.append(
            ServiceLine(
                project=project,
                service=service,
                traffic=sparkline([float(p.count) for p in points], label=f"{service} traffic"),
                errors=sparkline([p.error_rate for p in points], label=f"{service} error rate"),
                latency=sparkline([p.p95_ms for p in points], label=f"{service} p95 latency"),
                last=points[-1],
                open_alerts=open_by_service.get(service, 0),
            )
        )
    return sorted(lines, key=lambda line: (-line.open_alerts, line.service, line.project))


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
