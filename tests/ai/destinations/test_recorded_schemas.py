"""Every call the destinations build validates against the recorded Composio schema of its
tool, and every tool delivery or its probes call has a recorded schema with its source."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.ai.alerts import make_context, make_summary
from tests.ai.destinations.targets import HOSTILE, Target, Thread
from tracer_ai.destinations import DESTINATIONS
from tracer_ai.destinations.base import PlanRequest, Step
from tracer_ai.destinations.schemas import argument_problems, recorded_schema, recorded_schemas
from tracer_ai.summary import SampleMessage
from tracer_ai.tool_call import ToolCall
from tracer_core.models import AlertEventKind

TARGET = Target(
    channel="#incidents",
    project_key="OPS",
    service_id="PSVC123",
    recipients=("oncall@example.com", "sre@example.com"),
)
THREADS = {
    "slack": Thread("1700000000.000100", {"channel": "C0123456789"}),
    "jira": Thread("OPS-7"),
    "pagerduty": Thread("fp-1", {"incident_id": "PINC42"}),
    "gmail": Thread("<m1@mail>", {"message_id": "m1", "thread_id": "t1"}),
}
STARTED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _calls(name: str, event: AlertEventKind, threaded: bool) -> list[ToolCall]:
    ctx = make_context(event=event, samples=[SampleMessage(message=HOSTILE, count=3)])
    thread = THREADS[name] if threaded else None
    plan = DESTINATIONS[name].plan(PlanRequest(9, TARGET, ctx, make_summary(), thread))
    if not isinstance(plan, list):
        return []
    calls: list[ToolCall] = []
    for step in plan:
        assert isinstance(step, Step)
        calls.append(step.call)
        if step.probe is not None:
            calls.append(step.probe(STARTED).call)
    return calls


@pytest.mark.parametrize("name", sorted(n for n, d in DESTINATIONS.items() if d.routing_tools))
@pytest.mark.parametrize("event", list(AlertEventKind))
@pytest.mark.parametrize("threaded", [False, True])
def test_every_rendered_call_validates_against_its_recorded_schema(
    name: str, event: AlertEventKind, threaded: bool
) -> None:
    for call in _calls(name, event, threaded):
        schema = recorded_schema(call.slug)
        assert schema is not None, f"{call.slug} has no recorded schema"
        assert argument_problems(schema.input_schema, call.arguments) == [], call.slug


def test_recorded_schemas_name_their_source_and_date() -> None:
    schemas = recorded_schemas()
    for name in {t for d in DESTINATIONS.values() for t in d.routing_tools}:
        assert name in schemas
    for schema in schemas.values():
        assert schema.source.strip()
        assert schema.recorded.startswith("2026")
        assert schema.input_schema.get("type") == "object"
    assert schemas["SLACK_SEND_MESSAGE"].version == "20260721_00"


def test_slack_send_refuses_text_and_names_the_argument() -> None:
    schema = recorded_schema("SLACK_SEND_MESSAGE")
    assert schema is not None
    assert argument_problems(schema.input_schema, {"channel": "C1", "text": "hi"}) == [
        "unexpected argument 'text'"
    ]
    assert argument_problems(schema.input_schema, {"channel": "C1", "markdown_text": "hi"}) == []
    assert argument_problems(schema.input_schema, {"markdown_text": "hi"}) == [
        "missing required argument: 'channel' is a required property"
    ]
