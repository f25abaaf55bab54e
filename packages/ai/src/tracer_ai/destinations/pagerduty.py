"""PagerDuty: one incident per alert, keyed by the alert fingerprint (PagerDuty's dedup key);
an escalation updates its title and urgency, a resolution resolves it by id.

Because PagerDuty deduplicates on the incident key, triggering again after a lost answer
finds the same incident: no step needs a crash probe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from tracer_ai.destinations.answers import data_field, find_mapping, find_value, result_payload
from tracer_ai.destinations.base import (
    Plan,
    PlanRequest,
    Skip,
    Step,
    Target,
    ThreadOpened,
    UnreadableAnswerError,
)
from tracer_ai.destinations.text import facts, one_line, source_note, truncate
from tracer_ai.summary import AlertContext, AlertSummary
from tracer_ai.tool_call import ToolCall
from tracer_core.models import AlertEventKind, Severity

CREATE_INCIDENT_RECORD = "PAGERDUTY_CREATE_INCIDENT_RECORD"
UPDATE_INCIDENT_BY_ID = "PAGERDUTY_UPDATE_INCIDENT_BY_ID"

TITLE_LIMIT = 1024
DETAILS_LIMIT = 8000


def plain_body(summary: AlertSummary, ctx: AlertContext) -> str:
    lines = [f"{k}: {v}" for k, v in facts(ctx)]
    lines += [
        "",
        f"What happened: {summary.what_happened}",
        f"Impact: {summary.impact}",
        f"Likely cause: {summary.likely_cause}",
        "Next steps:",
    ]
    lines += [f"  {i}. {step}" for i, step in enumerate(summary.next_steps, 1)]
    if ctx.alert_url:
        lines += ["", ctx.alert_url]
    lines += ["", source_note(summary).strip("_")]
    return "\n".join(lines)


def render(
    summary: AlertSummary,
    ctx: AlertContext,
    *,
    service_id: str,
    action: Literal["trigger", "resolve"] = "trigger",
    incident_id: str | None = None,
    dedup_key: str | None = None,
    urgency: Literal["high", "low"] | None = None,
) -> ToolCall:
    """PagerDuty incident: create on trigger (incident key = fingerprint), resolve by id.

    Resolving needs the incident id read from the trigger's result (`parse_incident_id`).
    """
    if action == "resolve":
        if not incident_id:
            raise ValueError("resolving a PagerDuty incident needs its incident id")
        return ToolCall(
            UPDATE_INCIDENT_BY_ID,
            {"id": incident_id, "incident__type": "incident", "incident__status": "resolved"},
        )
    if not service_id.strip():
        raise ValueError("PagerDuty service id is empty")
    chosen = urgency or ("high" if ctx.severity >= Severity.HIGH else "low")
    title = truncate(one_line(f"[{ctx.severity.value}] {summary.title}"), TITLE_LIMIT)
    return ToolCall(
        CREATE_INCIDENT_RECORD,
        {
            "incident__type": "incident",
            "incident__title": title,
            "incident__service__id": service_id,
            "incident__service__type": "service_reference",
            "incident__urgency": chosen,
            "incident__incident__key": dedup_key or ctx.fingerprint,
            "incident__body__type": "incident_body",
            "incident__body__details": truncate(plain_body(summary, ctx), DETAILS_LIMIT),
        },
    )


def parse_incident_id(result: Any) -> str | None:
    """The id of the created PagerDuty incident."""
    payload = result_payload(result)
    if isinstance(payload, Mapping):
        incident = find_mapping(payload, "incident")
        if incident is not None:
            found = find_value(incident, ("id",))
            if found:
                return found
    return find_value(payload, ("incident_id", "id"))


def read_incident(payload: Any) -> dict[str, Any]:
    incident_id = parse_incident_id(payload)
    if not incident_id:
        raise UnreadableAnswerError("PagerDuty answered without an incident id")
    incident = data_field(payload, "incident")
    fields = incident if isinstance(incident, Mapping) else {}
    return {
        "incident_id": incident_id,
        "incident_key": fields.get("incident_key"),
        "status": fields.get("status"),
        "incident_number": fields.get("incident_number"),
    }


# Incident notices that set the PagerDuty incident's status.
_STATUS_FOR_NOTICE = {
    AlertEventKind.ACKNOWLEDGED: "acknowledged",
    AlertEventKind.RESOLVED_BY_HAND: "resolved",
}


def _set_status(request: PlanRequest, incident_id: Any) -> Plan:
    """Acknowledge or resolve the PagerDuty incident the Tracer incident opened."""
    if not incident_id:
        return Skip("no PagerDuty incident was opened for this incident")
    status = _STATUS_FOR_NOTICE[request.ctx.event]
    call = ToolCall(
        UPDATE_INCIDENT_BY_ID,
        {"id": incident_id, "incident__type": "incident", "incident__status": status},
    )
    step = "acknowledge" if status == "acknowledged" else "resolve"
    return [Step(step, call, read_incident, request.marker(step))]


def _notify_again(request: PlanRequest, incident_id: Any) -> Plan:
    """Re-escalate the unacknowledged PagerDuty incident to its first level, which pages
    the on-call again, at high urgency."""
    if not incident_id:
        return Skip("no PagerDuty incident was opened for this incident")
    call = ToolCall(
        UPDATE_INCIDENT_BY_ID,
        {
            "id": incident_id,
            "incident__type": "incident",
            "incident__urgency": "high",
            "incident__escalation__level": 1,
        },
    )
    return [Step("renotify", call, read_incident, request.marker("renotify"))]


class PagerDutyDestination:
    name = "pagerduty"
    routing_tools = (CREATE_INCIDENT_RECORD, UPDATE_INCIDENT_BY_ID)

    def plan(self, request: PlanRequest) -> Plan:
        assert request.target.service_id is not None
        incident_id = request.thread.data.get("incident_id") if request.thread is not None else None
        if request.ctx.event in _STATUS_FOR_NOTICE:
            return _set_status(request, incident_id)
        if request.ctx.event is AlertEventKind.RENOTIFIED:
            return _notify_again(request, incident_id)
        if request.ctx.event is AlertEventKind.UNACKNOWLEDGED:
            return Skip("PagerDuty has no way back from acknowledged; it re-triggers on its own")
        if request.ctx.event is AlertEventKind.RESOLVED:
            if not incident_id:
                return Skip("no PagerDuty incident was opened for this alert; nothing to resolve")
            call = render(
                request.summary,
                request.ctx,
                service_id=request.target.service_id,
                action="resolve",
                incident_id=incident_id,
            )
            return [Step("resolve", call, read_incident, request.marker("resolve"))]
        trigger = render(request.summary, request.ctx, service_id=request.target.service_id)
        # Escalations and further alerts of the same incident update the PagerDuty incident
        # the first alert opened instead of triggering another one.
        if request.ctx.event is not AlertEventKind.REOPENED and incident_id:
            update = ToolCall(
                UPDATE_INCIDENT_BY_ID,
                {
                    "id": incident_id,
                    "incident__type": "incident",
                    "incident__title": trigger.arguments["incident__title"],
                    "incident__urgency": trigger.arguments["incident__urgency"],
                },
            )
            return [Step("update", update, read_incident, request.marker("update"))]
        marker = request.marker("trigger")
        return [Step("trigger", trigger, read_incident, marker, opens_thread=True)]

    def opened_thread(
        self, target: Target, ctx: AlertContext, result: Mapping[str, Any]
    ) -> ThreadOpened | None:
        ref = result.get("incident_key") or ctx.fingerprint
        if not ref:
            return None
        return ThreadOpened(str(ref), data={"incident_id": result.get("incident_id")})


PAGERDUTY = PagerDutyDestination()
