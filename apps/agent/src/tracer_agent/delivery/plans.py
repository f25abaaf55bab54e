"""What one delivery sends: the registered destination's plan for its alert event, and the
thread a thread-opening step leaves behind for later events.

The steps, markers and crash probes themselves are the destination's business
(`tracer_ai.destinations`); this module only picks the destination by toolkit.
"""

from __future__ import annotations

from typing import Any

from tracer_agent.delivery.journal import Thread
from tracer_agent.delivery.store import ClaimedDelivery
from tracer_ai.destinations import destination_for
from tracer_ai.destinations.base import Plan, PlanRequest
from tracer_ai.summary import AlertContext, AlertSummary


def plan(
    delivery: ClaimedDelivery,
    ctx: AlertContext,
    summary: AlertSummary,
    thread: Thread | None,
) -> Plan:
    """The steps for this delivery; ValueError when its settings cannot be rendered."""
    target = delivery.destination
    destination = destination_for(target.toolkit)
    return destination.plan(PlanRequest(delivery.id, target, ctx, summary, thread))


def opened_thread(
    delivery: ClaimedDelivery, ctx: AlertContext, result: dict[str, Any]
) -> Thread | None:
    """The thread a thread-opening step opened, as the journal records it (None when the
    answer lacks its reference)."""
    target = delivery.destination
    opened = destination_for(target.toolkit).opened_thread(target, ctx, result)
    if opened is None:
        return None
    return Thread(
        delivery.alert_id, target.name, target.toolkit, opened.channel, opened.ref, opened.data
    )
