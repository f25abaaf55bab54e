"""Slack: one message per alert, later events as replies in its thread.

Text is mrkdwn with ``& < >`` escaped, so log text cannot ping ``<!channel>``. The crash
probe reads the channel history (or the thread) for the step's marker.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tracer_ai.destinations.answers import data_field, find_value, listed, result_payload, text_of
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
    QUIET_EVENTS,
    facts,
    one_line,
    source_note,
    top_samples,
    truncate,
)
from tracer_ai.summary import AlertContext, AlertSummary
from tracer_ai.tool_call import ToolCall
from tracer_core.models import INCIDENT_NOTICES, AlertEventKind, Severity

SEND_MESSAGE = "SLACK_SEND_MESSAGE"
FETCH_HISTORY = "SLACK_FETCH_CONVERSATION_HISTORY"
FETCH_THREAD = "SLACK_FETCH_MESSAGE_THREAD_FROM_A_CONVERSATION"

TEXT_LIMIT = 3900

_ICON = {
    Severity.LOW: ":large_blue_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.HIGH: ":large_orange_circle:",
    Severity.CRITICAL: ":red_circle:",
}


# Replies that reach the channel too, not only the thread's followers.
_BROADCAST = frozenset({AlertEventKind.ESCALATED, AlertEventKind.RENOTIFIED})


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    return escape(text).replace("`", "'")


def render(
    summary: AlertSummary, ctx: AlertContext, *, channel: str, thread_ts: str | None = None
) -> ToolCall:
    """SLACK_SEND_MESSAGE in mrkdwn; replies in `thread_ts` when given (escalation, resolution)."""
    if not channel.strip():
        raise ValueError("Slack channel is empty")
    esc = escape
    head = f"{_ICON[ctx.severity]} *{EVENT_WORD[ctx.event]}: {esc(one_line(summary.title))}*"
    lines = [head, " | ".join(f"*{esc(k)}:* {esc(v)}" for k, v in facts(ctx))]
    lines.append(f"*What happened:* {esc(summary.what_happened)}")
    if ctx.event not in QUIET_EVENTS:
        lines.append(f"*Impact:* {esc(summary.impact)}")
        lines.append(f"*Likely cause:* {esc(summary.likely_cause)}")
        lines.append("*Next steps:*\n" + "\n".join(f"• {esc(step)}" for step in summary.next_steps))
        samples = top_samples(ctx)
        if samples:
            lines.append(
                "*Top messages:*\n"
                + "\n".join(f"• {count}× `{_code(msg)}`" for count, msg in samples)
            )
    if ctx.alert_url:
        lines.append(f"<{ctx.alert_url}|Open in Tracer>")
    lines.append(source_note(summary))
    text = truncate("\n".join(lines), TEXT_LIMIT)
    arguments: dict[str, Any] = {"channel": channel, "text": text}
    if thread_ts:
        arguments["thread_ts"] = thread_ts
    return ToolCall(SEND_MESSAGE, arguments)


def parse_ts(result: Any) -> str | None:
    """The `ts` of the posted Slack message (thread parent for later replies)."""
    return find_value(result_payload(result), ("ts",))


def read_post(payload: Any) -> dict[str, Any]:
    ts = parse_ts(payload)
    if not ts:
        raise UnreadableAnswerError("Slack answered without a message ts")
    channel = data_field(payload, "channel")
    return {"ts": ts, "channel": channel if isinstance(channel, str) else None}


def find_marker(payload: Any, marker: str) -> dict[str, Any] | None:
    for message in listed(payload, "messages"):
        if isinstance(message, Mapping) and carries_marker(text_of(message.get("text")), marker):
            return {"ts": text_of(message.get("ts")) or None, "channel": None}
    return None


class SlackDestination:
    name = "slack"
    routing_tools = (SEND_MESSAGE,)

    def plan(self, request: PlanRequest) -> Plan:
        assert request.target.channel is not None
        channel = request.target.channel
        reply_to = request.thread.thread_ref if request.thread is not None else None
        if reply_to is None and request.ctx.event in INCIDENT_NOTICES:
            return Skip("no Slack thread was opened for this incident")
        marker = request.marker("post")
        call = render(request.summary, request.ctx, channel=channel, thread_ts=reply_to)
        call = call.with_arguments(text=f"{call.arguments['text']}\n_{reference_note(marker)}_")
        if reply_to is not None and request.ctx.event in _BROADCAST:
            call = call.with_arguments(reply_broadcast=True)  # escalations reach the channel too

        def probe(started: datetime) -> Probe:
            if reply_to is not None:
                return Probe(
                    ToolCall(FETCH_THREAD, {"channel": channel, "ts": reply_to}), find_marker
                )
            oldest = f"{started.timestamp() - 60:.6f}"
            args = {"channel": channel, "oldest": oldest, "limit": 200}
            return Probe(ToolCall(FETCH_HISTORY, args), find_marker)

        return [Step("post", call, read_post, marker, probe, opens_thread=reply_to is None)]

    def opened_thread(
        self, target: Target, ctx: AlertContext, result: Mapping[str, Any]
    ) -> ThreadOpened | None:
        ts = result.get("ts")
        if not ts:
            return None
        return ThreadOpened(str(ts), channel=result.get("channel") or target.channel)


SLACK = SlackDestination()
