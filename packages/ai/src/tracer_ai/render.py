"""Turn an alert summary into one tool call per destination, and read back what it created.

Slugs and argument names follow Composio's tool catalogue (the same names the local MCP sink
exposes). Each renderer respects the destination's limits and escaping: Slack mrkdwn with
``& < >`` escaped (so log text cannot ping ``<!channel>``), Jira Markdown with a one-line
summary of at most 255 characters, PagerDuty titles of at most 1024 characters and the alert
fingerprint as incident key (PagerDuty's dedup key), and HTML-escaped mail bodies.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tracer_ai.summary import AlertContext, AlertSummary, clean_untrusted, format_number
from tracer_core.models import AlertEventKind, Severity

SLACK_SEND_MESSAGE = "SLACK_SEND_MESSAGE"
JIRA_CREATE_ISSUE = "JIRA_CREATE_ISSUE"
JIRA_ADD_COMMENT = "JIRA_ADD_COMMENT"
PAGERDUTY_CREATE_INCIDENT_RECORD = "PAGERDUTY_CREATE_INCIDENT_RECORD"
PAGERDUTY_UPDATE_INCIDENT_BY_ID = "PAGERDUTY_UPDATE_INCIDENT_BY_ID"
GMAIL_SEND_EMAIL = "GMAIL_SEND_EMAIL"

SLACK_TEXT_LIMIT = 3900
JIRA_SUMMARY_LIMIT = 255
JIRA_TEXT_LIMIT = 30000
PAGERDUTY_TITLE_LIMIT = 1024
PAGERDUTY_DETAILS_LIMIT = 8000
MAIL_SUBJECT_LIMIT = 200
SAMPLES_SHOWN = 5


@dataclass(frozen=True)
class ToolCall:
    """A tool to call and its arguments, independent of how it is reached (MCP, meta tool)."""

    slug: str
    arguments: dict[str, Any] = field(default_factory=dict)


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())


_EVENT_WORD = {
    AlertEventKind.OPENED: "New alert",
    AlertEventKind.ESCALATED: "Escalated",
    AlertEventKind.RESOLVED: "Resolved",
    AlertEventKind.REOPENED: "Reopened",
}
_SLACK_ICON = {
    Severity.LOW: ":large_blue_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.HIGH: ":large_orange_circle:",
    Severity.CRITICAL: ":red_circle:",
}


def _facts(ctx: AlertContext) -> list[tuple[str, str]]:
    facts = [
        ("Service", f"{ctx.project}/{ctx.service}"),
        ("Type", ctx.alert_type.value),
        ("Severity", ctx.severity.value),
        ("Window", f"{ctx.window_start:%Y-%m-%d %H:%M:%S} – {ctx.window_end:%H:%M:%S} UTC"),
        ("Occurrences", format_number(ctx.occurrences)),
    ]
    for key in ("observed", "baseline_mean", "baseline_std", "z_score"):
        value = ctx.details.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            facts.append((key.replace("_", " ").capitalize(), format_number(value)))
    return facts


def _samples(ctx: AlertContext) -> list[tuple[int, str]]:
    top = sorted(ctx.samples, key=lambda s: -s.count)[:SAMPLES_SHOWN]
    return [(s.count, clean_untrusted(s.message, 300)) for s in top]


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_code(text: str) -> str:
    return slack_escape(text).replace("`", "'")


def render_slack(
    summary: AlertSummary, ctx: AlertContext, *, channel: str, thread_ts: str | None = None
) -> ToolCall:
    """SLACK_SEND_MESSAGE in mrkdwn; replies in `thread_ts` when given (escalation, resolution)."""
    if not channel.strip():
        raise ValueError("Slack channel is empty")
    esc = slack_escape
    head = (
        f"{_SLACK_ICON[ctx.severity]} *{_EVENT_WORD[ctx.event]}: {esc(_one_line(summary.title))}*"
    )
    lines = [head, " | ".join(f"*{esc(k)}:* {esc(v)}" for k, v in _facts(ctx))]
    lines.append(f"*What happened:* {esc(summary.what_happened)}")
    if ctx.event is not AlertEventKind.RESOLVED:
        lines.append(f"*Impact:* {esc(summary.impact)}")
        lines.append(f"*Likely cause:* {esc(summary.likely_cause)}")
        lines.append("*Next steps:*\n" + "\n".join(f"• {esc(step)}" for step in summary.next_steps))
        samples = _samples(ctx)
        if samples:
            lines.append(
                "*Top messages:*\n"
                + "\n".join(f"• {count}× `{_slack_code(msg)}`" for count, msg in samples)
            )
    if ctx.alert_url:
        lines.append(f"<{ctx.alert_url}|Open in Tracer>")
    lines.append(_source_note(summary))
    text = truncate("\n".join(lines), SLACK_TEXT_LIMIT)
    arguments: dict[str, Any] = {"channel": channel, "text": text}
    if thread_ts:
        arguments["thread_ts"] = thread_ts
    return ToolCall(SLACK_SEND_MESSAGE, arguments)


def _source_note(summary: AlertSummary) -> str:
    if summary.source == "llm":
        return f"_Summary by {summary.model or 'LLM'}, confidence {summary.confidence}._"
    return "_Template summary (no LLM)._"


def _markdown_body(summary: AlertSummary, ctx: AlertContext) -> str:
    parts = [
        f"*{_EVENT_WORD[ctx.event]}* — {summary.title}",
        "",
        "\n".join(f"- **{k}:** {v}" for k, v in _facts(ctx)),
        "",
        f"**What happened:** {summary.what_happened}",
        f"**Impact:** {summary.impact}",
        f"**Likely cause:** {summary.likely_cause}",
        "",
        "**Next steps:**",
        "\n".join(f"{i}. {step}" for i, step in enumerate(summary.next_steps, 1)),
    ]
    samples = _samples(ctx)
    if samples:
        parts += ["", "**Top messages:**"]
        parts += [f"- {count}× `{msg.replace('`', chr(39))}`" for count, msg in samples]
    if ctx.alert_url:
        parts += ["", f"[Open in Tracer]({ctx.alert_url})"]
    parts += ["", f"Fingerprint: `{ctx.fingerprint}` · {_source_note(summary).strip('_')}"]
    return "\n".join(parts)


_JIRA_PRIORITY = {
    Severity.LOW: "Low",
    Severity.MEDIUM: "Medium",
    Severity.HIGH: "High",
    Severity.CRITICAL: "Highest",
}


def render_jira_issue(
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
        "summary": truncate(
            _one_line(f"[{ctx.severity.value}] {summary.title}"), JIRA_SUMMARY_LIMIT
        ),
        "description": truncate(_markdown_body(summary, ctx), JIRA_TEXT_LIMIT),
        "issue_type": issue_type,
        "labels": [*labels, ctx.alert_type.value],
    }
    if set_priority:
        arguments["priority"] = _JIRA_PRIORITY[ctx.severity]
    return ToolCall(JIRA_CREATE_ISSUE, arguments)


def render_jira_comment(summary: AlertSummary, ctx: AlertContext, *, issue_key: str) -> ToolCall:
    """JIRA_ADD_COMMENT on the alert's existing issue (escalation, resolution, reopening)."""
    if not issue_key.strip():
        raise ValueError("Jira issue key is empty")
    return ToolCall(
        JIRA_ADD_COMMENT,
        {
            "issue_id_or_key": issue_key,
            "comment": truncate(_markdown_body(summary, ctx), JIRA_TEXT_LIMIT),
        },
    )


def render_pagerduty(
    summary: AlertSummary,
    ctx: AlertContext,
    *,
    service_id: str,
    action: Literal["trigger", "resolve"] = "trigger",
    incident_id: str | None = None,
    dedup_key: str | None = None,
    urgency: Literal["high", "low"] | None = None,
) -> ToolCall:
    """PagerDuty incident: create on trigger (incident key = fingerprint), resolve by id.

    Resolving needs the incident id read from the trigger's result
    (`parse_pagerduty_incident_id`).
    """
    if action == "resolve":
        if not incident_id:
            raise ValueError("resolving a PagerDuty incident needs its incident id")
        return ToolCall(
            PAGERDUTY_UPDATE_INCIDENT_BY_ID,
            {"id": incident_id, "incident__type": "incident", "incident__status": "resolved"},
        )
    if not service_id.strip():
        raise ValueError("PagerDuty service id is empty")
    chosen = urgency or ("high" if ctx.severity >= Severity.HIGH else "low")
    title = truncate(_one_line(f"[{ctx.severity.value}] {summary.title}"), PAGERDUTY_TITLE_LIMIT)
    return ToolCall(
        PAGERDUTY_CREATE_INCIDENT_RECORD,
        {
            "incident__type": "incident",
            "incident__title": title,
            "incident__service__id": service_id,
            "incident__service__type": "service_reference",
            "incident__urgency": chosen,
            "incident__incident__key": dedup_key or ctx.fingerprint,
            "incident__body__type": "incident_body",
            "incident__body__details": truncate(_plain_body(summary, ctx), PAGERDUTY_DETAILS_LIMIT),
        },
    )


def _plain_body(summary: AlertSummary, ctx: AlertContext) -> str:
    lines = [f"{k}: {v}" for k, v in _facts(ctx)]
    lines += [
        "",
        f"What happened: {summary.what_happened}",
        f"Impact: {summary.impact}",
        f"Likely cause: {summary.likely_cause}",
        "Next steps:",
    ]
    lines += [f"  {i}. {step}" for i, step in enumerate(summary.next_steps, 1)]
    if ctx.alert_url:
        lines += ["", ctx.alert_url]
    lines += ["", _source_note(summary).strip("_")]
    return "\n".join(lines)


def render_gmail(
    summary: AlertSummary, ctx: AlertContext, *, recipients: Sequence[str]
) -> ToolCall:
    """GMAIL_SEND_EMAIL with an HTML body in which every value is escaped."""
    cleaned = [r.strip() for r in recipients if r.strip()]
    if not cleaned:
        raise ValueError("no mail recipients")
    bad = [r for r in cleaned if "@" not in r or any(c in r for c in " <>,;\r\n")]
    if bad:
        raise ValueError(f"invalid mail recipient(s): {', '.join(bad)}")
    esc = html.escape
    subject = truncate(
        _one_line(f"[Tracer] {_EVENT_WORD[ctx.event]}: {summary.title}"), MAIL_SUBJECT_LIMIT
    )
    rows = "".join(
        f'<tr><th align="left">{esc(k)}</th><td>{esc(v)}</td></tr>' for k, v in _facts(ctx)
    )
    steps = "".join(f"<li>{esc(step)}</li>" for step in summary.next_steps)
    body = [
        f"<h2>{esc(_EVENT_WORD[ctx.event])}: {esc(summary.title)}</h2>",
        f"<table>{rows}</table>",
        f"<p><b>What happened:</b> {esc(summary.what_happened)}</p>",
        f"<p><b>Impact:</b> {esc(summary.impact)}</p>",
        f"<p><b>Likely cause:</b> {esc(summary.likely_cause)}</p>",
        f"<p><b>Next steps:</b></p><ol>{steps}</ol>",
    ]
    samples = _samples(ctx)
    if samples:
        items = "".join(f"<li>{count}× <code>{esc(msg)}</code></li>" for count, msg in samples)
        body.append(f"<p><b>Top messages:</b></p><ul>{items}</ul>")
    if ctx.alert_url:
        body.append(f'<p><a href="{esc(ctx.alert_url, quote=True)}">Open in Tracer</a></p>')
    body.append(f"<p><small>{esc(_source_note(summary).strip('_'))}</small></p>")
    return ToolCall(
        GMAIL_SEND_EMAIL,
        {
            "recipient_email": cleaned[0],
            "extra_recipients": cleaned[1:],
            "subject": subject,
            "body": "\n".join(body),
            "is_html": True,
        },
    )


# --- reading results ---------------------------------------------------------------------


def result_payload(result: Any) -> Any:
    """The structured value of a tool result: a dict, a ToolResult-like object, or JSON text."""
    structured = getattr(result, "structured", None)
    if structured is not None:
        return structured
    text = getattr(result, "text", result)
    if isinstance(text, str):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return None
    return text


def _find(value: Any, keys: Iterable[str], depth: int = 0) -> str | None:
    """Breadth-first search for the first string/number under one of `keys`."""
    wanted = tuple(keys)
    if depth > 6:
        return None
    if isinstance(value, Mapping):
        for key in wanted:
            found = value.get(key)
            if isinstance(found, str) and found:
                return found
            if isinstance(found, int) and not isinstance(found, bool):
                return str(found)
        for child in value.values():
            hit = _find(child, wanted, depth + 1)
            if hit:
                return hit
    elif isinstance(value, list):
        for child in value:
            hit = _find(child, wanted, depth + 1)
            if hit:
                return hit
    return None


def parse_slack_ts(result: Any) -> str | None:
    """The `ts` of the posted Slack message (thread parent for later replies)."""
    return _find(result_payload(result), ("ts",))


def parse_jira_issue_key(result: Any) -> str | None:
    """The key (PROJ-123) of the created Jira issue."""
    return _find(result_payload(result), ("key", "issue_key"))


def parse_pagerduty_incident_id(result: Any) -> str | None:
    """The id of the created PagerDuty incident."""
    payload = result_payload(result)
    if isinstance(payload, Mapping):
        incident = _find_mapping(payload, "incident")
        if incident is not None:
            found = _find(incident, ("id",))
            if found:
                return found
    return _find(payload, ("incident_id", "id"))


def parse_gmail_message_id(result: Any) -> str | None:
    """The id of the sent Gmail message."""
    payload = result_payload(result)
    if isinstance(payload, Mapping):
        inner = _find_mapping(payload, "response_data")
        if inner is not None:
            found = _find(inner, ("id", "messageId"))
            if found:
                return found
    return _find(payload, ("messageId", "message_id", "id"))


def _find_mapping(value: Any, key: str, depth: int = 0) -> Mapping[str, Any] | None:
    if depth > 6:
        return None
    if isinstance(value, Mapping):
        found = value.get(key)
        if isinstance(found, Mapping):
            return found
        for child in value.values():
            hit = _find_mapping(child, key, depth + 1)
            if hit is not None:
                return hit
    elif isinstance(value, list):
        for child in value:
            hit = _find_mapping(child, key, depth + 1)
            if hit is not None:
                return hit
    return None
