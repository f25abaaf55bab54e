"""What one delivery sends: the tool calls ("steps") for a destination and an alert event.

A first event opens a thread on each destination (a Slack message, a Jira issue, a PagerDuty
incident keyed by the alert fingerprint); later events reply into it (a threaded Slack reply,
a Jira comment and transition, a PagerDuty update or resolve). Each step carries a marker
unique to the delivery and step, placed where the destination keeps it (Slack text, a Jira
label or comment line, the mail body), and, where the destination can be searched, a probe
that finds an earlier call carrying that marker: a worker that died between calling and
recording leaves the next worker a way to tell "sent" from "never arrived".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tracer_agent.delivery.journal import Thread
from tracer_agent.delivery.results import (
    find_gmail_marker,
    find_jira_comment_marker,
    find_jira_issue_marker,
    find_slack_marker,
    read_gmail,
    read_jira_comment,
    read_jira_issue,
    read_pagerduty,
    read_slack,
    read_transition,
)
from tracer_agent.delivery.store import ClaimedDelivery
from tracer_agent.routing import Destination
from tracer_ai.render import (
    PAGERDUTY_UPDATE_INCIDENT_BY_ID,
    ToolCall,
    render_gmail,
    render_jira_comment,
    render_jira_issue,
    render_pagerduty,
    render_slack,
)
from tracer_ai.summary import AlertContext, AlertSummary
from tracer_core.models import AlertEventKind, Toolkit

JIRA_TRANSITION_ISSUE = "JIRA_TRANSITION_ISSUE"
JIRA_SEARCH_ISSUES = "JIRA_SEARCH_ISSUES"
JIRA_LIST_COMMENTS = "JIRA_LIST_ISSUE_COMMENTS"
SLACK_HISTORY = "SLACK_FETCH_CONVERSATION_HISTORY"
SLACK_THREAD = "SLACK_FETCH_MESSAGE_THREAD_FROM_A_CONVERSATION"
GMAIL_FETCH_EMAILS = "GMAIL_FETCH_EMAILS"

Reader = Callable[[Any], dict[str, Any]]
Finder = Callable[[Any, str], dict[str, Any] | None]


@dataclass(frozen=True)
class Probe:
    """A read-only call that finds an earlier step by its marker: `find(payload, marker)`."""

    call: ToolCall
    find: Finder


@dataclass(frozen=True)
class Step:
    name: str
    call: ToolCall
    read: Reader  # the tool's answer -> what to record (ts, issue key, incident id ...)
    marker: str
    probe: Callable[[datetime], Probe] | None = None  # given when the lost call started
    opens_thread: bool = False


@dataclass(frozen=True)
class Skip:
    """Nothing to send, and why (recorded as the delivery's result)."""

    reason: str


def marker_for(delivery_id: int, step: str) -> str:
    return f"tracer-d{delivery_id}-{step}"


def _with(call: ToolCall, **changes: Any) -> ToolCall:
    return replace(call, arguments={**call.arguments, **changes})


def plan(
    delivery: ClaimedDelivery,
    ctx: AlertContext,
    summary: AlertSummary,
    thread: Thread | None,
) -> list[Step] | Skip:
    destination = delivery.destination
    builders = {
        Toolkit.SLACK: _slack,
        Toolkit.JIRA: _jira,
        Toolkit.PAGERDUTY: _pagerduty,
        Toolkit.GMAIL: _gmail,
    }
    return builders[destination.toolkit](delivery.id, destination, ctx, summary, thread)


def _slack(
    delivery_id: int,
    dest: Destination,
    ctx: AlertContext,
    summary: AlertSummary,
    thread: Thread | None,
) -> list[Step]:
    assert dest.channel is not None
    reply_to = thread.thread_ref if thread is not None else None
    marker = marker_for(delivery_id, "post")
    call = render_slack(summary, ctx, channel=dest.channel, thread_ts=reply_to)
    call = _with(call, text=f"{call.arguments['text']}\n_ref {marker}_")
    if reply_to is not None and ctx.event is AlertEventKind.ESCALATED:
        call = _with(call, reply_broadcast=True)  # an escalation should reach the channel too
    channel = dest.channel

    def probe(started: datetime) -> Probe:
        if reply_to is not None:
            return Probe(
                ToolCall(SLACK_THREAD, {"channel": channel, "ts": reply_to}), find_slack_marker
            )
        oldest = f"{started.timestamp() - 60:.6f}"
        args = {"channel": channel, "oldest": oldest, "limit": 200}
        return Probe(ToolCall(SLACK_HISTORY, args), find_slack_marker)

    return [Step("post", call, read_slack, marker, probe, opens_thread=reply_to is None)]


def _jira(
    delivery_id: int,
    dest: Destination,
    ctx: AlertContext,
    summary: AlertSummary,
    thread: Thread | None,
) -> list[Step] | Skip:
    assert dest.project_key is not None
    if thread is None:
        if ctx.event is AlertEventKind.RESOLVED:
            return Skip("no Jira issue was opened for this alert; nothing to resolve")
        marker = marker_for(delivery_id, "create")
        call = render_jira_issue(
            summary, ctx, project_key=dest.project_key, issue_type=dest.issue_type,
            labels=("tracer", marker),
        )  # fmt: skip

        def find_issue(started: datetime) -> Probe:
            return Probe(
                ToolCall(JIRA_SEARCH_ISSUES, {"jql": f'labels = "{marker}"'}),
                find_jira_issue_marker,
            )

        return [Step("create", call, read_jira_issue, marker, find_issue, opens_thread=True)]
    key = thread.thread_ref
    marker = marker_for(delivery_id, "comment")
    comment = render_jira_comment(summary, ctx, issue_key=key)
    comment = _with(comment, comment=f"{comment.arguments['comment']}\n\nref: {marker}")

    def find_comment(started: datetime) -> Probe:
        return Probe(
            ToolCall(JIRA_LIST_COMMENTS, {"issue_id_or_key": key}), find_jira_comment_marker
        )

    steps = [Step("comment", comment, read_jira_comment, marker, find_comment)]
    target = {
        AlertEventKind.RESOLVED: dest.resolve_transition,
        AlertEventKind.REOPENED: dest.reopen_transition,
    }.get(ctx.event)
    if target:
        # Moving an issue to the state it is already in changes nothing: no probe needed.
        transition = ToolCall(
            JIRA_TRANSITION_ISSUE, {"issue_id_or_key": key, "transition_id_or_name": target}
        )
        steps.append(
            Step("transition", transition, read_transition, marker_for(delivery_id, "transition"))
        )
    return steps


def _pagerduty(
    delivery_id: int,
    dest: Destination,
    ctx: AlertContext,
    summary: AlertSummary,
    thread: Thread | None,
) -> list[Step] | Skip:
    # PagerDuty deduplicates on the incident key (the alert fingerprint), so triggering again
    # after a lost answer finds the same incident: no probe is needed for any step.
    assert dest.service_id is not None
    incident_id = thread.data.get("incident_id") if thread is not None else None
    if ctx.event is AlertEventKind.RESOLVED:
        if not incident_id:
            return Skip("no PagerDuty incident was opened for this alert; nothing to resolve")
        call = render_pagerduty(
            summary, ctx, service_id=dest.service_id, action="resolve", incident_id=incident_id
        )
        return [Step("resolve", call, read_pagerduty, marker_for(delivery_id, "resolve"))]
    trigger = render_pagerduty(summary, ctx, service_id=dest.service_id)
    if ctx.event is AlertEventKind.ESCALATED and incident_id:
        update = ToolCall(
            PAGERDUTY_UPDATE_INCIDENT_BY_ID,
            {
                "id": incident_id,
                "incident__type": "incident",
                "incident__title": trigger.arguments["incident__title"],
                "incident__urgency": trigger.arguments["incident__urgency"],
            },
        )
        return [Step("update", update, read_pagerduty, marker_for(delivery_id, "update"))]
    return [
        Step(
            "trigger",
            trigger,
            read_pagerduty,
            marker_for(delivery_id, "trigger"),
            opens_thread=True,
        )
    ]


def _gmail(
    delivery_id: int,
    dest: Destination,
    ctx: AlertContext,
    summary: AlertSummary,
    thread: Thread | None,
) -> list[Step]:
    marker = marker_for(delivery_id, "send")
    call = render_gmail(summary, ctx, recipients=dest.recipients)
    call = _with(call, body=f"{call.arguments['body']}\n<p><small>ref: {marker}</small></p>")

    def probe(started: datetime) -> Probe:
        query = {"query": f'in:sent "{marker}"', "max_results": 5}
        return Probe(ToolCall(GMAIL_FETCH_EMAILS, query), find_gmail_marker)

    return [Step("send", call, read_gmail, marker, probe, opens_thread=thread is None)]
