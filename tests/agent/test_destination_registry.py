"""A destination registered in `tracer_ai.destinations` is planned and threaded by the
delivery worker with no change to the worker: one module and one registry line suffice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tests.ai.alerts import make_context, make_summary
from tracer_agent.delivery.journal import Thread
from tracer_agent.delivery.plans import opened_thread, plan
from tracer_agent.delivery.store import ClaimedDelivery
from tracer_agent.routing import Destination as RoutedDestination
from tracer_ai.destinations import DESTINATIONS, routing_tools
from tracer_ai.destinations.base import (
    Destination,
    Plan,
    PlanRequest,
    Step,
    Target,
    ThreadOpened,
)
from tracer_ai.summary import AlertContext
from tracer_ai.tool_call import ToolCall
from tracer_core.models import AlertEventKind, Severity

FAX_SEND = "FAX_SEND_PAGE"


class FaxDestination:
    name = "fax"
    routing_tools = (FAX_SEND,)

    def plan(self, request: PlanRequest) -> Plan:
        call = ToolCall(FAX_SEND, {"to": request.target.channel, "text": request.summary.title})
        read = lambda payload: {"page_id": payload["id"]}  # noqa: E731
        return [Step("send", call, read, request.marker("send"), opens_thread=True)]

    def opened_thread(
        self, target: Target, ctx: AlertContext, result: Mapping[str, Any]
    ) -> ThreadOpened | None:
        return ThreadOpened(str(result["page_id"]), channel=target.channel)


def _delivery(destination: RoutedDestination) -> ClaimedDelivery:
    return ClaimedDelivery(
        id=11, alert_id=42, event_id=9, event_kind=AlertEventKind.OPENED,
        event_severity=Severity.HIGH, destination=destination, attempts=0, result={},
    )  # fmt: skip


def test_a_registered_destination_is_routed_by_the_worker_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fax_destination: Destination = FaxDestination()  # checks that it meets the interface
    monkeypatch.setitem(DESTINATIONS, "fax", fax_destination)
    # The routing model only knows today's toolkits; model_construct stands in for a file entry.
    fax = RoutedDestination.model_construct(name="front-desk", toolkit="fax", channel="+3312")  # type: ignore[arg-type]
    delivery = _delivery(fax)
    planned = plan(delivery, make_context(), make_summary(), None)
    assert isinstance(planned, list)
    [step] = planned
    assert step.call == ToolCall(FAX_SEND, {"to": "+3312", "text": make_summary().title})
    assert step.marker == "tracer-d11-send"
    recorded = step.read({"id": "p-1"})
    thread = opened_thread(delivery, make_context(), recorded)
    assert routing_tools(("slack", "fax")) == ("SLACK_SEND_MESSAGE", FAX_SEND)  # preloaded
    assert thread == Thread(42, "front-desk", "fax", "+3312", "p-1", {})  # type: ignore[arg-type]


def test_known_destinations_plan_through_the_same_registry() -> None:
    slack = RoutedDestination(name="chat", toolkit="slack", channel="#ops")
    planned = plan(_delivery(slack), make_context(), make_summary(), None)
    assert isinstance(planned, list)
    assert [s.call.slug for s in planned] == ["SLACK_SEND_MESSAGE"]
