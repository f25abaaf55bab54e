"""PagerDuty: the incident keyed by fingerprint, update on escalation, resolve by id."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.ai.alerts import make_context, make_summary
from tests.ai.destinations.targets import Target, Thread
from tracer_ai.destinations import pagerduty
from tracer_ai.destinations.base import PlanRequest, Skip, UnreadableAnswerError
from tracer_core.models import AlertEventKind, Severity

SERVICE = Target(service_id="PSVC1")


def test_pagerduty_trigger_uses_fingerprint_as_incident_key_and_bounds_title() -> None:
    summary = make_summary(title="y" * 3000)
    call = pagerduty.render(summary, make_context(severity=Severity.CRITICAL), service_id="PSVC1")
    assert call.slug == "PAGERDUTY_CREATE_INCIDENT_RECORD"
    args = call.arguments
    assert args["incident__incident__key"] == "shop/checkout/error_spike"
    assert args["incident__service__id"] == "PSVC1"
    assert args["incident__service__type"] == "service_reference"
    assert args["incident__urgency"] == "high"
    assert len(args["incident__title"]) <= pagerduty.TITLE_LIMIT
    low = pagerduty.render(make_summary(), make_context(severity=Severity.LOW), service_id="P")
    assert low.arguments["incident__urgency"] == "low"
    custom = pagerduty.render(make_summary(), make_context(), service_id="P", dedup_key="k")
    assert custom.arguments["incident__incident__key"] == "k"


def test_pagerduty_resolve_needs_the_incident_id() -> None:
    ctx = make_context(event=AlertEventKind.RESOLVED)
    call = pagerduty.render(make_summary(), ctx, service_id="P", action="resolve", incident_id="Q1")
    assert call.slug == "PAGERDUTY_UPDATE_INCIDENT_BY_ID"
    assert call.arguments["id"] == "Q1"
    assert call.arguments["incident__status"] == "resolved"
    with pytest.raises(ValueError, match="incident id"):
        pagerduty.render(make_summary(), ctx, service_id="P", action="resolve")


def test_plan_triggers_updates_and_resolves_the_same_incident() -> None:
    opened = pagerduty.PAGERDUTY.plan(PlanRequest(4, SERVICE, make_context(), make_summary(), None))
    assert isinstance(opened, list)
    [trigger] = opened
    assert (trigger.name, trigger.opens_thread) == ("trigger", True)
    assert trigger.probe is not None
    lookup = trigger.probe(datetime(2026, 1, 1, tzinfo=UTC))
    key = trigger.call.arguments["incident__incident__key"]
    assert lookup.call.slug == "PAGERDUTY_FETCH_INCIDENT_LIST"
    assert lookup.call.arguments["incident_key"] == key
    listed = {"successful": True, "data": {"incidents": [
        {"id": "Q0", "incident_key": key, "status": "resolved"},
        {"id": "Q1", "incident_key": key, "status": "triggered", "incident_number": 7},
    ]}}  # fmt: skip
    assert lookup.find(listed, trigger.marker) == {
        "incident_id": "Q1", "incident_key": key, "status": "triggered", "incident_number": 7,
    }  # fmt: skip
    assert lookup.find({"successful": True, "data": {"incidents": []}}, trigger.marker) is None
    incident = Thread("shop/checkout/error_spike", {"incident_id": "Q1"})
    escalated = make_context(event=AlertEventKind.ESCALATED, severity=Severity.CRITICAL)
    plan = pagerduty.PAGERDUTY.plan(PlanRequest(4, SERVICE, escalated, make_summary(), incident))
    assert isinstance(plan, list)
    [update] = plan
    assert update.call.slug == "PAGERDUTY_UPDATE_INCIDENT_BY_ID"
    assert update.call.arguments["id"] == "Q1"
    assert update.call.arguments["incident__urgency"] == "high"
    resolved = make_context(event=AlertEventKind.RESOLVED)
    plan = pagerduty.PAGERDUTY.plan(PlanRequest(4, SERVICE, resolved, make_summary(), incident))
    assert isinstance(plan, list)
    assert plan[0].call.arguments["incident__status"] == "resolved"
    assert isinstance(
        pagerduty.PAGERDUTY.plan(PlanRequest(4, SERVICE, resolved, make_summary(), None)), Skip
    )


def test_answers_give_the_incident_and_its_key() -> None:
    incident = {"id": "Q2ABC", "incident_number": 7, "incident_key": "k1", "status": "triggered"}
    answer = {"successful": True, "data": {"incident": incident}}
    assert pagerduty.parse_incident_id(answer) == "Q2ABC"
    recorded = pagerduty.read_incident(answer)
    assert recorded == {"incident_id": "Q2ABC", "incident_key": "k1", "status": "triggered",
                        "incident_number": 7}  # fmt: skip
    with pytest.raises(UnreadableAnswerError):
        pagerduty.read_incident({"successful": True, "data": {}})
    opened = pagerduty.PAGERDUTY.opened_thread(SERVICE, make_context(), recorded)
    assert opened is not None
    assert (opened.ref, opened.data) == ("k1", {"incident_id": "Q2ABC"})
    keyless = pagerduty.PAGERDUTY.opened_thread(SERVICE, make_context(), {"incident_id": "Q3"})
    assert keyless is not None
    assert keyless.ref == "shop/checkout/error_spike"
