"""Would the arguments Tracer builds validate against a tool's live input schema?

A tool's schema can change under Tracer (Composio removed Slack's ``text`` argument, for
one). `check_destinations` plans every event kind, first and follow-up, for each configured
destination with a synthetic alert, collects every call and probe call, and validates them
against the schemas a tool-router session lists (falling back to the recorded copy for tools
the session does not list directly). The agent fails readiness on a problem; `tracer doctor`
prints the same report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tracer_ai.destinations import DESTINATIONS
from tracer_ai.destinations.base import OpenThread, PlanRequest, Target
from tracer_ai.destinations.schemas import RecordedSchema, argument_problems, recorded_schema
from tracer_ai.summary import AlertContext, SampleMessage, template_summary
from tracer_ai.tool_call import ToolCall
from tracer_core.models import AlertEventKind, AlertStatus, AlertType, Severity

_NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class _SampleThread:
    thread_ref: str
    data: Mapping[str, Any]


# What a first post leaves behind on each destination, for planning the follow-ups.
_THREADS: dict[str, OpenThread] = {
    "slack": _SampleThread("1700000000.000100", {"channel": "C0TRACER01"}),
    "jira": _SampleThread("OPS-1", {}),
    "pagerduty": _SampleThread("tracer-check", {"incident_id": "PTRACER"}),
    "gmail": _SampleThread("<check@tracer>", {"message_id": "m1", "thread_id": "t1"}),
}


@dataclass(frozen=True)
class ToolCheck:
    """One tool: where its schema came from and what in Tracer's arguments it refuses."""

    tool: str
    destination: str
    schema_source: str  # "live" (listed by the session) or "recorded"
    recorded: RecordedSchema | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def message(self) -> str:
        return f"{self.tool} ({self.destination}): " + "; ".join(self.problems)


def _context(event: AlertEventKind) -> AlertContext:
    return AlertContext(
        alert_id=1,
        fingerprint="tracer-schema-check",
        project="shop",
        service="checkout",
        alert_type=AlertType.ERROR_SPIKE,
        severity=Severity.CRITICAL,
        status=AlertStatus.RESOLVED if event is AlertEventKind.RESOLVED else AlertStatus.OPEN,
        event=event,
        window_start=_NOW - timedelta(minutes=5),
        window_end=_NOW,
        details={"observed": 0.42, "baseline_mean": 0.01},
        samples=[SampleMessage(message="payment gateway timeout", count=3)],
        alert_url="http://127.0.0.1:8000/alerts/1",
    )


def destination_calls(name: str, target: Target) -> list[ToolCall]:
    """Every call and probe call `name` makes for `target`, over all event kinds."""
    destination = DESTINATIONS[name]
    calls: list[ToolCall] = []
    for event in AlertEventKind:
        ctx = _context(event)
        for thread in (None, _THREADS.get(name)):
            plan = destination.plan(PlanRequest(1, target, ctx, template_summary(ctx), thread))
            if not isinstance(plan, list):
                continue
            for step in plan:
                calls.append(step.call)
                if step.probe is not None:
                    calls.append(step.probe(_NOW).call)
    return calls


def check_destinations(
    targets: Iterable[tuple[str, Target]], live_schemas: Mapping[str, Mapping[str, Any]]
) -> list[ToolCheck]:
    """One check per tool the given (destination name, target) pairs call, sorted by tool."""
    problems: dict[tuple[str, str], set[str]] = {}
    for name, target in targets:
        if not DESTINATIONS[name].routing_tools:
            continue  # plain webhooks are HTTP, not tools with schemas
        for call in destination_calls(name, target):
            found = problems.setdefault((call.slug, name), set())
            schema = live_schemas.get(call.slug)
            if schema is None:
                recorded = recorded_schema(call.slug)
                if recorded is None:
                    found.add("no schema: the session does not list it and none is recorded")
                    continue
                schema = recorded.input_schema
            found.update(argument_problems(schema, call.arguments))
    return [
        ToolCheck(
            tool=tool,
            destination=name,
            schema_source="live" if tool in live_schemas else "recorded",
            recorded=recorded_schema(tool),
            problems=tuple(sorted(found)),
        )
        for (tool, name), found in sorted(problems.items())
    ]
