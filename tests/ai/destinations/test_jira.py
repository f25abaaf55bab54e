"""Jira: issue and comment rendering, the open/comment/transition plan, probes, answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.ai.alerts import make_context, make_summary
from tests.ai.destinations.targets import Target, Thread
from tracer_ai.destinations import jira
from tracer_ai.destinations.base import PlanRequest, Skip, Step, UnreadableAnswerError
from tracer_core.models import AlertEventKind, Severity

OPS = Target(project_key="OPS", issue_type="Bug")
STARTED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_jira_issue_arguments_and_limits() -> None:
    summary = make_summary(title="t" * 400 + "\nsecond line")
    call = jira.render_issue(summary, make_context(), project_key="OPS", set_priority=True)
    assert call.slug == "JIRA_CREATE_ISSUE"
    args = call.arguments
    assert args["project_key"] == "OPS"
    assert args["issue_type"] == "Bug"
    assert len(args["summary"]) <= jira.SUMMARY_LIMIT
    assert "\n" not in args["summary"]
    assert args["summary"].startswith("[high] ")
    assert args["labels"] == ["tracer", "error_spike"]
    assert args["priority"] == "High"
    assert "**Next steps:**" in args["description"]
    assert "`shop/checkout/error_spike`" in args["description"]


def test_jira_comment_targets_the_existing_issue() -> None:
    ctx = make_context(event=AlertEventKind.ESCALATED, severity=Severity.CRITICAL)
    call = jira.render_comment(make_summary(), ctx, issue_key="OPS-12")
    assert call.slug == "JIRA_ADD_COMMENT"
    assert call.arguments["issue_id_or_key"] == "OPS-12"
    assert call.arguments["comment"].startswith("*Escalated*")
    with pytest.raises(ValueError, match="issue key"):
        jira.render_comment(make_summary(), ctx, issue_key="")


def test_first_event_creates_an_issue_labelled_with_its_marker() -> None:
    plan = jira.JIRA.plan(PlanRequest(3, OPS, make_context(), make_summary(), None))
    assert isinstance(plan, list)
    [step] = plan
    assert (step.name, step.opens_thread) == ("create", True)
    assert step.call.arguments["labels"] == ["tracer", "tracer-d3-create", "error_spike"]
    assert step.probe is not None
    probe = step.probe(STARTED)
    assert probe.call.slug == "JIRA_SEARCH_ISSUES"
    assert probe.call.arguments == {"jql": 'labels = "tracer-d3-create"'}
    found = {"successful": True, "data": {"issues": [
        {"key": "OPS-1", "fields": {"labels": ["tracer"]}},
        {"key": "OPS-2", "fields": {"labels": ["tracer", "tracer-d3-create"]}},
    ]}}  # fmt: skip
    assert probe.find(found, step.marker) == {"issue_key": "OPS-2"}
    unlabelled = {"issues": [{"key": "OPS-5"}]}
    assert probe.find(unlabelled, step.marker) == {"issue_key": "OPS-5"}
    assert probe.find({"issues": [{"key": "OPS-5"}, {"key": "OPS-6"}]}, step.marker) is None


def test_resolution_comments_then_transitions_and_needs_an_issue() -> None:
    resolved = make_context(event=AlertEventKind.RESOLVED)
    assert isinstance(jira.JIRA.plan(PlanRequest(3, OPS, resolved, make_summary(), None)), Skip)
    plan = jira.JIRA.plan(PlanRequest(3, OPS, resolved, make_summary(), Thread("OPS-9")))
    assert isinstance(plan, list)
    comment, transition = plan
    assert isinstance(comment, Step)
    assert comment.call.slug == "JIRA_ADD_COMMENT"
    assert comment.call.arguments["comment"].endswith("\n\n_Tracer ref d3-comment_")
    assert comment.probe is not None
    probe = comment.probe(STARTED)
    assert probe.call.slug == "JIRA_LIST_ISSUE_COMMENTS"
    listed = {"comments": [{"id": 77, "body": "... ref: tracer-d3-comment"}]}
    assert probe.find(listed, comment.marker) == {"comment_id": "77"}
    assert transition.call.slug == "JIRA_TRANSITION_ISSUE"
    assert transition.call.arguments == {"issue_id_or_key": "OPS-9",
                                         "transition_id_or_name": "Done"}  # fmt: skip
    assert transition.probe is None
    escalated = make_context(event=AlertEventKind.ESCALATED)
    only_comment = jira.JIRA.plan(PlanRequest(3, OPS, escalated, make_summary(), Thread("OPS-9")))
    assert isinstance(only_comment, list)
    assert [s.name for s in only_comment] == ["comment"]
    reopened = make_context(event=AlertEventKind.REOPENED)
    again = jira.JIRA.plan(PlanRequest(3, OPS, reopened, make_summary(), Thread("OPS-9")))
    assert isinstance(again, list)
    assert again[1].call.arguments["transition_id_or_name"] == "To Do"


def test_answers_give_the_issue_key() -> None:
    answer = {"successful": True, "data": {"id": "10001", "key": "OPS-7", "self": "https://x"}}
    assert jira.parse_issue_key(answer) == "OPS-7"
    assert jira.parse_issue_key({"successful": False, "data": {}}) is None
    assert jira.read_issue(answer) == {"issue_key": "OPS-7"}
    with pytest.raises(UnreadableAnswerError):
        jira.read_issue({"successful": True, "data": {}})
    assert jira.read_comment({"successful": True, "data": {"id": 5}}) == {"comment_id": "5"}
    assert jira.read_transition({"successful": True, "data": {"status": "Done"}}) == {
        "status": "Done"
    }
    opened = jira.JIRA.opened_thread(OPS, make_context(), {"issue_key": "OPS-7"})
    assert opened is not None
    assert (opened.ref, opened.channel) == ("OPS-7", None)
