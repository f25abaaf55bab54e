"""Jira: one issue per alert (labelled with the step's marker), later events as comments,
resolution and reopening as workflow transitions.

The summary line holds at most 255 characters; the description and comments are Jira
Markdown. The crash probe searches issues by the marker label, or lists the comments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tracer_ai.destinations.answers import data_field, find_value, listed, result_payload
from tracer_ai.destinations.base import (
    Plan,
    PlanRequest,
    Probe,
    Skip,
    Step,
    Target,
    ThreadOpened,
    UnreadableAnswerError,
    carries_marker,
    reference_note,
)
from tracer_ai.destinations.text import (
    EVENT_WORD,
    facts,
    one_line,
    source_note,
    top_samples,
    truncate,
)
from tracer_ai.summary import AlertContext, AlertSummary
from tracer_ai.tool_call import ToolCall
from tracer_core.models import INCIDENT_NOTICES, AlertEventKind, Severity

CREATE_ISSUE = "JIRA_CREATE_ISSUE"
ADD_COMMENT = "JIRA_ADD_COMMENT"
TRANSITION_ISSUE = "JIRA_TRANSITION_ISSUE"
SEARCH_ISSUES = "JIRA_SEARCH_ISSUES"
LIST_COMMENTS = "JIRA_LIST_ISSUE_COMMENTS"

SUMMARY_LIMIT = 255
TEXT_LIMIT = 30000

_PRIORITY = {
    Severity.LOW: "Low",
    Severity.MEDIUM: "Medium",
    Severity.HIGH: "High",
    Severity.CRITICAL: "Highest",
}


def markdown_body(summary: AlertSummary, ctx: AlertContext) -> str:
    parts = [
        f"*{EVENT_WORD[ctx.event]}* — {summary.title}",
        "",
        "\n".join(f"- **{k}:** {v}" for k, v in facts(ctx)),
        "",
        f"**What happened:** {summary.what_happened}",
        f"**Impact:** {summary.impact}",
        f"**Likely cause:** {summary.likely_cause}",
        "",
        "**Next steps:**",
        "\n".join(f"{i}. {step}" for i, step in enumerate(summary.next_steps, 1)),
    ]
    samples = top_samples(ctx)
    if samples:
        parts += ["", "**Top messages:**"]
        parts += [f"- {count}× `{msg.replace('`', chr(39))}`" for count, msg in samples]
    if ctx.alert_url:
        parts += ["", f"[Open in Tracer]({ctx.alert_url})"]
    parts += ["", f"Fingerprint: `{ctx.fingerprint}` · {source_note(summary).strip('_')}"]
    return "\n".join(parts)


def render_issue(
    summary: AlertSummary,
    ctx: AlertContext,
    *,
    project_key: str,
    issue_type: str = "Bug",
    labels: Sequence[str] = ("tracer",),
    set_priority: bool = False,
) -> ToolCall:
    """JIRA_CREATE_ISSUE; `set_priority` maps severity to Jira's default priority names."""
    if not project_key.strip():
        raise ValueError("Jira project key is empty")
    arguments: dict[str, Any] = {
        "project_key": project_key,
        "summary": truncate(one_line(f"[{ctx.severity.value}] {summary.title}"), SUMMARY_LIMIT),
        "description": truncate(markdown_body(summary, ctx), TEXT_LIMIT),
        "issue_type": issue_type,
        "labels": [*labels, ctx.alert_type.value],
    }
    if set_priority:
        arguments["priority"] = _PRIORITY[ctx.severity]
    return ToolCall(CREATE_ISSUE, arguments)


def render_comment(summary: AlertSummary, ctx: AlertContext, *, issue_key: str) -> ToolCall:
    """JIRA_ADD_COMMENT on the alert's existing issue (escalation, resolution, reopening)."""
    if not issue_key.strip():
        raise ValueError("Jira issue key is empty")
    return ToolCall(
        ADD_COMMENT,
        {
            "issue_id_or_key": issue_key,
            "comment": truncate(markdown_body(summary, ctx), TEXT_LIMIT),
        },
    )


def parse_issue_key(result: Any) -> str | None:
    """The key (PROJ-123) of the created Jira issue."""
    return find_value(result_payload(result), ("key", "issue_key"))


def read_issue(payload: Any) -> dict[str, Any]:
    key = parse_issue_key(payload)
    if not key:
        raise UnreadableAnswerError("Jira answered without an issue key")
    return {"issue_key": key}


def read_comment(payload: Any) -> dict[str, Any]:
    comment_id = data_field(payload, "id")
    return {"comment_id": str(comment_id) if comment_id is not None else None}


def read_transition(payload: Any) -> dict[str, Any]:
    status = data_field(payload, "status")
    return {"status": status if isinstance(status, str) else None}


def find_issue_marker(payload: Any, marker: str) -> dict[str, Any] | None:
    """The issue labelled with `marker`. The search asked for that label; an answer that
    omits labels is trusted only when it holds a single issue."""
    issues = [i for i in listed(payload, "issues") if isinstance(i, Mapping)]
    for issue in issues:
        fields = issue.get("fields")
        labels = fields.get("labels") if isinstance(fields, Mapping) else issue.get("labels")
        key = issue.get("key")
        if not isinstance(key, str):
            continue
        if isinstance(labels, list) and marker in labels:
            return {"issue_key": key}
        if labels is None and len(issues) == 1:
            return {"issue_key": key}
    return None


def find_comment_marker(payload: Any, marker: str) -> dict[str, Any] | None:
    for comment in listed(payload, "comments"):
        if isinstance(comment, Mapping) and carries_marker(str(comment.get("body", "")), marker):
            comment_id = comment.get("id")
            return {"comment_id": str(comment_id) if comment_id is not None else None}
    return None


def _create_issue(request: PlanRequest, project_key: str) -> Step:
    """The step that opens the alert's issue, labelled with its marker for the probe."""
    marker = request.marker("create")
    call = render_issue(
        request.summary, request.ctx, project_key=project_key,
        issue_type=request.target.issue_type, labels=("tracer", marker),
    )  # fmt: skip

    def find_issue(started: datetime) -> Probe:
        search = ToolCall(SEARCH_ISSUES, {"jql": f'labels = "{marker}"'})
        return Probe(search, find_issue_marker)

    return Step("create", call, read_issue, marker, find_issue, opens_thread=True)


class JiraDestination:
    name = "jira"
    routing_tools = (CREATE_ISSUE, ADD_COMMENT)

    def plan(self, request: PlanRequest) -> Plan:
        assert request.target.project_key is not None
        if request.thread is None:
            if request.ctx.event is AlertEventKind.RESOLVED:
                return Skip("no Jira issue was opened for this alert; nothing to resolve")
            if request.ctx.event in INCIDENT_NOTICES:
                return Skip("no Jira issue was opened for this incident")
            return [_create_issue(request, request.target.project_key)]
        key = request.thread.thread_ref
        marker = request.marker("comment")
        comment = render_comment(request.summary, request.ctx, issue_key=key)
        comment = comment.with_arguments(
            comment=f"{comment.arguments['comment']}\n\n_{reference_note(marker)}_"
        )

        def find_comment(started: datetime) -> Probe:
            return Probe(ToolCall(LIST_COMMENTS, {"issue_id_or_key": key}), find_comment_marker)

        steps = [Step("comment", comment, read_comment, marker, find_comment)]
        transition_to = {
            AlertEventKind.RESOLVED: request.target.resolve_transition,
            AlertEventKind.RESOLVED_BY_HAND: request.target.resolve_transition,
            AlertEventKind.REOPENED: request.target.reopen_transition,
        }.get(request.ctx.event)
        if transition_to:
            # Moving an issue to the state it is already in changes nothing: no probe needed.
            transition = ToolCall(
                TRANSITION_ISSUE, {"issue_id_or_key": key, "transition_id_or_name": transition_to}
            )
            marker = request.marker("transition")
            steps.append(Step("transition", transition, read_transition, marker))
        return steps

    def opened_thread(
        self, target: Target, ctx: AlertContext, result: Mapping[str, Any]
    ) -> ThreadOpened | None:
        key = result.get("issue_key")
        return ThreadOpened(str(key)) if key else None


JIRA = JiraDestination()
