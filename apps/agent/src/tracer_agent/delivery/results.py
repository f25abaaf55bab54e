"""Reading what a destination answered: the identifiers a delivery records (Slack ts, Jira key,
PagerDuty incident, mail id), and finding an earlier call by its marker in a search answer.

Answers arrive wrapped the Composio way (`{"successful", "data", "error"}`), sometimes one
level deeper when they came through the multi-execute meta tool; readers look inside either.
A reader raises `UnreadableAnswerError` when a success lacks the identifier later events need.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracer_ai.render import (
    parse_gmail_message_id,
    parse_jira_issue_key,
    parse_pagerduty_incident_id,
    parse_slack_ts,
)


class UnreadableAnswerError(ValueError):
    pass


def _data(payload: Any) -> Any:
    """The service's own answer inside Composio's wrapper(s)."""
    for _ in range(3):
        if isinstance(payload, Mapping) and "data" in payload and "successful" in payload:
            payload = payload["data"]
        else:
            break
    return payload


def _list(payload: Any, *keys: str) -> list[Any]:
    data = _data(payload)
    if isinstance(data, Mapping):
        for key in keys:
            value = data.get(key)
            if isinstance(value, list):
                return value
    return data if isinstance(data, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def read_slack(payload: Any) -> dict[str, Any]:
    ts = parse_slack_ts(payload)
    if not ts:
        raise UnreadableAnswerError("Slack answered without a message ts")
    data = _data(payload)
    channel = data.get("channel") if isinstance(data, Mapping) else None
    return {"ts": ts, "channel": channel if isinstance(channel, str) else None}


def read_jira_issue(payload: Any) -> dict[str, Any]:
    key = parse_jira_issue_key(payload)
    if not key:
        raise UnreadableAnswerError("Jira answered without an issue key")
    return {"issue_key": key}


def read_jira_comment(payload: Any) -> dict[str, Any]:
    data = _data(payload)
    comment_id = data.get("id") if isinstance(data, Mapping) else None
    return {"comment_id": str(comment_id) if comment_id is not None else None}


def read_transition(payload: Any) -> dict[str, Any]:
    data = _data(payload)
    status = data.get("status") if isinstance(data, Mapping) else None
    return {"status": status if isinstance(status, str) else None}


def read_pagerduty(payload: Any) -> dict[str, Any]:
    incident_id = parse_pagerduty_incident_id(payload)
    if not incident_id:
        raise UnreadableAnswerError("PagerDuty answered without an incident id")
    data = _data(payload)
    incident = data.get("incident") if isinstance(data, Mapping) else None
    fields = incident if isinstance(incident, Mapping) else {}
    return {
        "incident_id": incident_id,
        "incident_key": fields.get("incident_key"),
        "status": fields.get("status"),
        "incident_number": fields.get("incident_number"),
    }


def read_gmail(payload: Any) -> dict[str, Any]:
    message_id = parse_gmail_message_id(payload)
    if not message_id:
        raise UnreadableAnswerError("Gmail answered without a message id")
    data = _data(payload)
    thread_id = data.get("threadId") if isinstance(data, Mapping) else None
    return {"message_id": message_id, "thread_id": thread_id}


def find_slack_marker(payload: Any, marker: str) -> dict[str, Any] | None:
    for message in _list(payload, "messages"):
        if isinstance(message, Mapping) and marker in _text(message.get("text")):
            return {"ts": _text(message.get("ts")) or None, "channel": None}
    return None


def find_jira_issue_marker(payload: Any, marker: str) -> dict[str, Any] | None:
    """The issue labelled with `marker`. The search asked for that label; an answer that
    omits labels is trusted only when it holds a single issue."""
    issues = [i for i in _list(payload, "issues") if isinstance(i, Mapping)]
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


def find_jira_comment_marker(payload: Any, marker: str) -> dict[str, Any] | None:
    for comment in _list(payload, "comments"):
        if isinstance(comment, Mapping) and marker in str(comment.get("body", "")):
            comment_id = comment.get("id")
            return {"comment_id": str(comment_id) if comment_id is not None else None}
    return None


def find_gmail_marker(payload: Any, marker: str) -> dict[str, Any] | None:
    for message in _list(payload, "messages"):
        if not isinstance(message, Mapping):
            continue
        text = _text(message.get("messageText")) + _text(message.get("snippet"))
        if marker in text and isinstance(message.get("messageId"), str):
            return {"message_id": message["messageId"], "thread_id": message.get("threadId")}
    return None
