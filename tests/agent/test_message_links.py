"""Every message carries the link back to its incident in Tracer and, when the routing
file's runbooks match the alert, the runbook and owning team; for every destination."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ai.alerts import make_context
from tracer_agent.delivery.links import MessageLinks
from tracer_agent.routing import Destination, RoutingError, default_rules, load_rules
from tracer_agent.settings import AgentSettings
from tracer_ai.destinations import destination_for
from tracer_ai.destinations.base import PlanRequest
from tracer_ai.summary import template_summary
from tracer_core.models import AlertEventKind, AlertType, Severity, Toolkit

RULES = """
[[destinations]]
name = "slack"
toolkit = "slack"
channel = "#ops"

[[rules]]
send_to = ["slack"]

[[runbooks]]
match = { service = ["checkout"], alert_type = ["error_spike"] }
url = "https://wiki.example.com/runbooks/checkout-errors"
owner = "team-payments"

[[runbooks]]
match = { service = ["checkout"] }
url = "https://wiki.example.com/runbooks/checkout"
owner = "team-shop"
"""

TARGETS = {
    Toolkit.SLACK: Destination(name="s", toolkit=Toolkit.SLACK, channel="#ops"),
    Toolkit.JIRA: Destination(name="j", toolkit=Toolkit.JIRA, project_key="OPS"),
    Toolkit.PAGERDUTY: Destination(name="p", toolkit=Toolkit.PAGERDUTY, service_id="PSVC"),
    Toolkit.GMAIL: Destination(name="g", toolkit=Toolkit.GMAIL, recipients=("ops@example.com",)),
}


def _rules(tmp_path: Path) -> MessageLinks:
    path = tmp_path / "routing.toml"
    path.write_text(RULES)
    return MessageLinks(load_rules(path), "https://tracer.example.com/")


@pytest.mark.parametrize("toolkit", list(Toolkit))
@pytest.mark.parametrize("event", [AlertEventKind.OPENED, AlertEventKind.ACKNOWLEDGED])
def test_every_destination_links_the_incident_runbook_and_owner(
    tmp_path: Path, toolkit: Toolkit, event: AlertEventKind
) -> None:
    links = _rules(tmp_path)
    ctx = links.annotate(make_context(service="checkout", incident_id=17, event=event))
    thread = None
    if event is not AlertEventKind.OPENED:
        thread = _Thread()
    steps = destination_for(toolkit).plan(
        PlanRequest(7, TARGETS[toolkit], ctx, template_summary(ctx), thread)
    )
    assert isinstance(steps, list)
    text = json.dumps([step.call.arguments for step in steps], ensure_ascii=False)
    if toolkit is Toolkit.PAGERDUTY and event is AlertEventKind.ACKNOWLEDGED:
        return  # a status change carries no text
    assert "https://tracer.example.com/incidents/17" in text
    assert "https://wiki.example.com/runbooks/checkout-errors" in text
    assert "team-payments" in text


# The arguments people read; Jira labels and PagerDuty keys are not among them.
_READ_BY_PEOPLE = ("text", "comment", "body", "description", "incident__body__details")


@pytest.mark.parametrize("toolkit", list(Toolkit))
def test_no_raw_marker_in_what_people_read(toolkit: Toolkit) -> None:
    ctx = make_context(event=AlertEventKind.ESCALATED)
    for thread in (None, _Thread()):
        steps = destination_for(toolkit).plan(
            PlanRequest(7, TARGETS[toolkit], ctx, template_summary(ctx), thread)
        )
        assert isinstance(steps, list)
        for step in steps:
            for field in _READ_BY_PEOPLE:
                assert "tracer-d7" not in str(step.call.arguments.get(field, ""))


class _Thread:
    thread_ref = "T-1"
    data = {"incident_id": "PABC123"}  # noqa: RUF012


def test_the_first_matching_runbook_wins_and_none_matches_other_services(
    tmp_path: Path,
) -> None:
    links = _rules(tmp_path)
    latency = links.annotate(make_context(service="checkout", alert_type=AlertType.HIGH_LATENCY))
    assert (latency.runbook_url, latency.owner) == (
        "https://wiki.example.com/runbooks/checkout", "team-shop",
    )  # fmt: skip
    other = links.annotate(make_context(service="search"))
    assert (other.runbook_url, other.owner) == (None, None)


def test_a_runbook_url_must_be_http(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text(RULES.replace('https://wiki.example.com/runbooks/checkout"', 'javascript:x"'))
    with pytest.raises(RoutingError, match="runbooks"):
        load_rules(path)


def test_the_incident_link_defaults_to_the_agents_own_address() -> None:
    base = AgentSettings(database_url="postgresql://x/y", port=8123)
    assert MessageLinks(default_rules(), base.incident_link_base).incident_url(3) == (
        "http://127.0.0.1:8123/incidents/3"
    )
    public = base.model_copy(update={"tracer_public_url": "https://tracer.example.com/"})
    assert public.incident_link_base == "https://tracer.example.com"


def test_the_readme_runbooks_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text("utf-8")
    block = next(b for b in readme.split("```toml\n")[1:] if b.startswith("[[runbooks]]"))
    path = tmp_path / "routing.toml"
    path.write_text(block.split("```")[0])
    rules = load_rules(path)
    entry = rules.runbook_for(
        severity=Severity.HIGH, service="cart-api", alert_type="high_latency", project="shop"
    )
    assert entry is not None
    assert entry.owner == "team-shop"
