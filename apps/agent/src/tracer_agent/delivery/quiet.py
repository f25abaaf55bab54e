"""Which alert events stay quiet: silenced (held, notified when the silence ends while the
alert is still open), inhibited by another open alert of the service (recorded in the
incident, never notified on their own), or belonging to an incident resolved by hand (quiet
until the service has been healthy once). Resolutions are never held: they only follow
messages that were actually sent."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg

from tracer_agent.dbtypes import Conn
from tracer_agent.routing import RoutingRules
from tracer_agent.stores.alerts import AlertRow, AlertStore
from tracer_core.models import AlertEventKind, Severity

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EventVerdict:
    """The alert's incident (None for alerts written before incidents existed); for a
    resolution, `closes_incident` when it is the one that resolved the incident on its own
    (it then reaches every destination of the incident) and `incident_open` while other
    alerts keep it open; why the event stays quiet (None: it is notified)."""

    incident_id: int | None
    incident_open: bool
    closes_incident: bool = False
    quiet: str | None = None
    silence_id: int | None = None


async def judge_event(
    conn: Conn, rules: RoutingRules, event: asyncpg.Record, alert: AlertRow
) -> EventVerdict:
    context = await AlertStore(conn).quiet_context(alert_id=alert.id, severity=event["severity"])
    if context is None:
        return EventVerdict(None, False)
    incident_id = context["incident_id"]
    incident_open = context["incident_status"] == "open"
    if AlertEventKind(event["kind"]) is AlertEventKind.RESOLVED:
        closes = (
            not incident_open
            and not context["resolved_by_hand"]
            and context["closed_by_alert"] == alert.id
        )
        return EventVerdict(incident_id, incident_open and incident_id is not None, closes)
    quiet = _quiet_reason(rules, context, alert, Severity(event["severity"]))
    silence = context["silence"]
    return EventVerdict(
        incident_id,
        incident_open,
        quiet=quiet,
        silence_id=int(silence) if quiet == "silenced" else None,
    )


def _quiet_reason(
    rules: RoutingRules, context: asyncpg.Record, alert: AlertRow, severity: Severity
) -> str | None:
    if context["silence"] is not None:
        log.info("alert %s is silenced by silence %s", alert.id, context["silence"])
        return "silenced"
    if context["resolved_by_hand"]:
        return "incident resolved by hand"
    others = [tuple(item.split(":", 1)) for item in context["others"]]
    rule = rules.inhibited(
        severity=severity,
        service=alert.service,
        alert_type=alert.alert_type,
        project=alert.project,
        open_alerts=[(kind, Severity(severity)) for kind, severity in others],
    )
    if rule is not None:
        log.info("alert %s is inhibited by %s", alert.id, rule)
        return f"inhibited by {rule}"
    return None
