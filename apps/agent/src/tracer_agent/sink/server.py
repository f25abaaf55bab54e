"""The local MCP sink: a real MCP server (streamable HTTP) with Composio's tool names and
argument shapes for Slack, Jira, PagerDuty and Gmail, which stores every call in PostgreSQL.

Every tool lists and enforces the recorded Composio input schema of its name
(`tracer_agent.sink.recorded`), so an argument the real tool would refuse is refused here.

It is the embedded default destination: without a Composio key the agent routes alerts here
through the same MCP client code it would use for a tool-router session, so the whole path
(rendering, MCP, thread bookkeeping, crash recovery) runs for real on one machine. Answers are
wrapped the way Composio wraps tool results (`successful`, `data`, `error`); a call a real
service would refuse fails the same way (an MCP error result).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from tracer_agent.sink.recorded import recorded_tools
from tracer_agent.sink.store import SinkError, SinkStore
from tracer_agent.sink.tickets import TicketSinkStore
from tracer_ai.destinations import gmail, jira, pagerduty, slack

Text = Annotated[str, Field(min_length=1)]

_JQL_LABEL = re.compile(r"""labels\s*(?:=|in)\s*\(?\s*["']?([\w.:-]+)["']?\s*\)?""", re.IGNORECASE)
_SLACK_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{8,12}")
_JQL_PROJECT = re.compile(r"""project\s*=\s*["']?([A-Z][A-Z0-9_]*)["']?""", re.IGNORECASE)


def _ok(data: dict[str, Any]) -> dict[str, Any]:
    return {"successful": True, "data": data, "error": None}


def _given(**arguments: Any) -> dict[str, Any]:
    return {key: value for key, value in arguments.items() if value is not None}


def create_sink_server(sink: SinkStore, tickets: TicketSinkStore) -> MCPServer[Any]:
    return MCPServer(
        "tracer-sink",
        instructions="Tracer's local sink: Slack, Jira, PagerDuty and Gmail calls are stored, "
        "not sent. Inspect them at GET /api/sink/messages.",
        tools=recorded_tools(sink_tools(sink, tickets)),
    )


def sink_tools(sink: SinkStore, tickets: TicketSinkStore) -> dict[str, Callable[..., Any]]:
    """The sink's tool functions by tool name (an MCP server derives each schema from them).

    Names come from the destination modules, so the sink serves exactly what delivery calls.
    """

    async def slack_send_message(
        channel: Annotated[str, Field(min_length=1, description="Channel id or name")],
        markdown_text: str | None = None,
        blocks: Any = None,
        fallback_text: str | None = None,
        thread_ts: Annotated[str | None, Field(description="Parent message ts")] = None,
        reply_broadcast: bool = False,
    ) -> dict[str, Any]:
        """Posts a message to a Slack channel, or into a thread when thread_ts is given."""
        body = markdown_text or fallback_text
        if not body:
            raise ToolError("no_text: give markdown_text, or blocks with fallback_text")
        arguments = _given(
            channel=channel, markdown_text=markdown_text, blocks=blocks,
            fallback_text=fallback_text, thread_ts=thread_ts,
            reply_broadcast=reply_broadcast or None,
        )  # fmt: skip
        try:
            return _ok(
                await sink.slack_post(
                    channel=channel, text=body, thread_ts=thread_ts, arguments=arguments
                )
            )
        except SinkError as exc:
            raise ToolError(str(exc)) from None

    def _channel_id(channel: str) -> str:
        """Slack's history tools take a channel ID; a name is not found."""
        if not _SLACK_CHANNEL_ID.fullmatch(channel):
            raise ToolError(f"channel_not_found: {channel!r} is not a channel ID")
        return channel

    async def slack_fetch_conversation_history(
        channel: Text,
        oldest: str | None = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """Top-level messages of a channel, newest first."""
        messages = await sink.slack_messages(
            channel=_channel_id(channel), thread_ts=None, oldest=oldest, limit=limit
        )
        return _ok({"ok": True, "messages": messages, "has_more": False})

    async def slack_fetch_message_thread_from_a_conversation(
        channel: Text, ts: Text, limit: Annotated[int, Field(ge=1, le=1000)] = 200
    ) -> dict[str, Any]:
        """A thread: its parent message and the replies, newest first."""
        messages = await sink.slack_messages(
            channel=_channel_id(channel), thread_ts=ts, oldest=None, limit=limit
        )
        return _ok({"ok": True, "messages": messages, "has_more": False})

    async def jira_create_issue(
        project_key: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")],
        summary: Annotated[str, Field(min_length=1, max_length=255)],
        description: str = "",
        issue_type: str = "Task",
        labels: list[str] | None = None,
        priority: str | None = None,
    ) -> dict[str, Any]:
        """Creates a Jira issue and returns its id and key."""
        arguments = _given(
            project_key=project_key, summary=summary, description=description,
            issue_type=issue_type, labels=labels, priority=priority,
        )  # fmt: skip
        return _ok(
            await tickets.jira_create(
                project_key=project_key, summary=summary, labels=labels or [], arguments=arguments
            )
        )

    async def jira_add_comment(issue_id_or_key: Text, comment: Text) -> dict[str, Any]:
        """Adds a comment to an existing Jira issue."""
        arguments = {"issue_id_or_key": issue_id_or_key, "comment": comment}
        try:
            return _ok(
                await tickets.jira_comment(
                    issue_key=issue_id_or_key, comment=comment, arguments=arguments
                )
            )
        except SinkError as exc:
            raise ToolError(str(exc)) from None

    async def jira_transition_issue(
        issue_id_or_key: Text, transition_id_or_name: Text
    ) -> dict[str, Any]:
        """Moves a Jira issue through its workflow (e.g. to Done)."""
        arguments = {
            "issue_id_or_key": issue_id_or_key,
            "transition_id_or_name": transition_id_or_name,
        }
        try:
            return _ok(
                await tickets.jira_transition(
                    issue_key=issue_id_or_key, status=transition_id_or_name, arguments=arguments
                )
            )
        except SinkError as exc:
            raise ToolError(str(exc)) from None

    async def jira_search_issues(
        jql: Text, max_results: Annotated[int, Field(ge=1, le=100)] = 50
    ) -> dict[str, Any]:
        """Searches issues with JQL (the sink understands `labels = X` and `project = X`)."""
        label = _JQL_LABEL.search(jql)
        project = _JQL_PROJECT.search(jql)
        if label is None and project is None:
            raise ToolError("the local sink supports JQL on labels and project only")
        issues = await tickets.jira_issues(
            label=label.group(1) if label else None,
            project_key=project.group(1).upper() if project else None,
            limit=max_results,
        )
        return _ok({"issues": issues, "total": len(issues)})

    async def jira_list_issue_comments(issue_id_or_key: Text) -> dict[str, Any]:
        """The comments of a Jira issue, oldest first."""
        comments = await tickets.jira_comments(issue_key=issue_id_or_key)
        return _ok({"comments": comments, "total": len(comments)})

    async def pagerduty_create_incident_record(
        incident__title: Annotated[str, Field(min_length=1, max_length=1024)],
        incident__service__id: Text,
        incident__type: Literal["incident"] = "incident",
        incident__service__type: Literal["service_reference"] = "service_reference",
        incident__urgency: Literal["high", "low"] = "high",
        incident__incident__key: str | None = None,
        incident__body__type: Literal["incident_body"] = "incident_body",
        incident__body__details: str = "",
    ) -> dict[str, Any]:
        """Creates a PagerDuty incident; refused when an open incident has the same key."""
        arguments = _given(
            incident__type=incident__type, incident__title=incident__title,
            incident__service__id=incident__service__id,
            incident__service__type=incident__service__type, incident__urgency=incident__urgency,
            incident__incident__key=incident__incident__key,
            incident__body__type=incident__body__type,
            incident__body__details=incident__body__details,
        )  # fmt: skip
        try:
            return _ok(
                await tickets.pagerduty_trigger(
                    service_id=incident__service__id,
                    title=incident__title,
                    urgency=incident__urgency,
                    dedup_key=incident__incident__key or incident__title,
                    arguments=arguments,
                )
            )
        except SinkError as exc:
            raise ToolError(str(exc)) from None

    async def pagerduty_fetch_incident_list(
        incident_key: str | None = None,
        service__ids: list[str] | None = None,
        date_range: str | None = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 25,
    ) -> dict[str, Any]:
        """Lists incidents, newest first, by incident key and services."""
        incidents = await tickets.pagerduty_incidents(
            incident_key=incident_key, service_ids=service__ids or [], limit=limit
        )
        return _ok({"incidents": incidents, "limit": limit, "more": False})

    async def pagerduty_update_incident_by_id(
        id: Text,
        incident__type: Literal["incident", "incident_reference"] = "incident",
        incident__status: Literal["acknowledged", "resolved"] | None = None,
        incident__urgency: Literal["high", "low"] | None = None,
        incident__title: str | None = None,
        incident__escalation__level: Annotated[int, Field(ge=1, le=20)] | None = None,
    ) -> dict[str, Any]:
        """Updates a PagerDuty incident's status, urgency, title or escalation level."""
        arguments = _given(
            id=id, incident__type=incident__type, incident__status=incident__status,
            incident__urgency=incident__urgency, incident__title=incident__title,
            incident__escalation__level=incident__escalation__level,
        )  # fmt: skip
        try:
            return _ok(
                await tickets.pagerduty_update(
                    incident_id=id,
                    status=incident__status,
                    urgency=incident__urgency,
                    title=incident__title,
                    arguments=arguments,
                )
            )
        except SinkError as exc:
            raise ToolError(str(exc)) from None

    async def gmail_send_email(
        recipient_email: Annotated[str, Field(pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+$")],
        subject: str = "",
        body: str = "",
        is_html: bool = False,
        extra_recipients: list[str] | None = None,
        cc: list[str] | None = None,
        bcc: list[str] | None = None,
    ) -> dict[str, Any]:
        """Sends an email from the connected Gmail account."""
        arguments = _given(
            recipient_email=recipient_email, subject=subject, body=body, is_html=is_html,
            extra_recipients=extra_recipients, cc=cc, bcc=bcc,
        )  # fmt: skip
        recipients = [recipient_email, *(extra_recipients or [])]
        return _ok(
            await sink.gmail_send(recipients=recipients, subject=subject, arguments=arguments)
        )

    async def gmail_reply_to_thread(
        thread_id: str,
        recipient_email: Annotated[str, Field(pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+$")],
        message_body: str = "",
        is_html: bool = False,
        extra_recipients: list[str] | None = None,
        cc: list[str] | None = None,
        bcc: list[str] | None = None,
    ) -> dict[str, Any]:
        """Replies in a Gmail thread; the reply keeps the thread's subject."""
        arguments = _given(
            thread_id=thread_id, recipient_email=recipient_email, message_body=message_body,
            is_html=is_html, extra_recipients=extra_recipients, cc=cc, bcc=bcc,
        )  # fmt: skip
        recipients = [recipient_email, *(extra_recipients or [])]
        try:
            return _ok(
                await sink.gmail_reply(
                    thread_id=thread_id, recipients=recipients, arguments=arguments
                )
            )
        except SinkError as exc:
            raise ToolError(str(exc)) from None

    async def gmail_fetch_emails(
        query: str = "", max_results: Annotated[int, Field(ge=1, le=500)] = 10
    ) -> dict[str, Any]:
        """Lists sent mail; the sink matches the query's free text against subject and body."""
        words = [w for w in query.split() if ":" not in w]
        messages = await sink.gmail_search(text=" ".join(words).strip('"'), limit=max_results)
        return _ok({"messages": messages, "resultSizeEstimate": len(messages)})

    return {
        slack.SEND_MESSAGE: slack_send_message,
        slack.FETCH_HISTORY: slack_fetch_conversation_history,
        slack.FETCH_THREAD: slack_fetch_message_thread_from_a_conversation,
        jira.CREATE_ISSUE: jira_create_issue,
        jira.ADD_COMMENT: jira_add_comment,
        jira.TRANSITION_ISSUE: jira_transition_issue,
        jira.SEARCH_ISSUES: jira_search_issues,
        jira.LIST_COMMENTS: jira_list_issue_comments,
        pagerduty.CREATE_INCIDENT_RECORD: pagerduty_create_incident_record,
        pagerduty.UPDATE_INCIDENT_BY_ID: pagerduty_update_incident_by_id,
        pagerduty.FETCH_INCIDENT_LIST: pagerduty_fetch_incident_list,
        gmail.SEND_EMAIL: gmail_send_email,
        gmail.REPLY_TO_THREAD: gmail_reply_to_thread,
        gmail.FETCH_EMAILS: gmail_fetch_emails,
    }
