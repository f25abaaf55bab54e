"""Gmail: the incident's first event is a new HTML mail, every later one a reply in that
mail's thread (GMAIL_REPLY_TO_THREAD keeps the first subject), every value escaped. The
thread id Gmail gave the first mail is kept on the incident's thread. The crash probe
searches sent mail for the step's marker, which ends the body."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tracer_ai.destinations.answers import (
    find_mapping,
    find_value,
    listed,
    result_payload,
    text_of,
)
from tracer_ai.destinations.base import (
    OpenThread,
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
from tracer_core.models import INCIDENT_NOTICES

SEND_EMAIL = "GMAIL_SEND_EMAIL"
REPLY_TO_THREAD = "GMAIL_REPLY_TO_THREAD"
FETCH_EMAILS = "GMAIL_FETCH_EMAILS"

SUBJECT_LIMIT = 200


def render(summary: AlertSummary, ctx: AlertContext, *, recipients: Sequence[str]) -> ToolCall:
    """GMAIL_SEND_EMAIL with an HTML body in which every value is escaped."""
    cleaned = [r.strip() for r in recipients if r.strip()]
    if not cleaned:
        raise ValueError("no mail recipients")
    bad = [r for r in cleaned if "@" not in r or any(c in r for c in " <>,;\r\n")]
    if bad:
        raise ValueError(f"invalid mail recipient(s): {', '.join(bad)}")
    esc = html.escape
    subject = truncate(
        one_line(f"[Tracer] {EVENT_WORD[ctx.event]}: {summary.title}"), SUBJECT_LIMIT
    )
    rows = "".join(
        f'<tr><th align="left">{esc(k)}</th><td>{esc(v)}</td></tr>' for k, v in facts(ctx)
    )
    steps = "".join(f"<li>{esc(step)}</li>" for step in summary.next_steps)
    body = [
        f"<h2>{esc(EVENT_WORD[ctx.event])}: {esc(summary.title)}</h2>",
        f"<table>{rows}</table>",
        f"<p><b>What happened:</b> {esc(summary.what_happened)}</p>",
        f"<p><b>Impact:</b> {esc(summary.impact)}</p>",
        f"<p><b>Likely cause:</b> {esc(summary.likely_cause)}</p>",
        f"<p><b>Next steps:</b></p><ol>{steps}</ol>",
    ]
    samples = top_samples(ctx)
    if samples:
        items = "".join(f"<li>{count}× <code>{esc(msg)}</code></li>" for count, msg in samples)
        body.append(f"<p><b>Top messages:</b></p><ul>{items}</ul>")
    if ctx.alert_url:
        body.append(f'<p><a href="{esc(ctx.alert_url, quote=True)}">Open in Tracer</a></p>')
    body.append(f"<p><small>{esc(source_note(summary).strip('_'))}</small></p>")
    return ToolCall(
        SEND_EMAIL,
        {
            "recipient_email": cleaned[0],
            "extra_recipients": cleaned[1:],
            "subject": subject,
            "body": "\n".join(body),
            "is_html": True,
        },
    )


def as_reply(call: ToolCall, thread_id: str) -> ToolCall:
    """The same mail as a reply in `thread_id`: Gmail keeps the thread's first subject."""
    arguments = dict(call.arguments)
    arguments.pop("subject", None)
    arguments["message_body"] = arguments.pop("body")
    return ToolCall(REPLY_TO_THREAD, {"thread_id": thread_id, **arguments})


def _sent_field(result: Any, inner_keys: tuple[str, ...], keys: tuple[str, ...]) -> str | None:
    """A field of the sent message: Composio nests Gmail's answer in `response_data`."""
    payload = result_payload(result)
    if isinstance(payload, Mapping):
        inner = find_mapping(payload, "response_data")
        if inner is not None:
            found = find_value(inner, inner_keys)
            if found:
                return found
    return find_value(payload, keys)


def parse_message_id(result: Any) -> str | None:
    """The id of the sent Gmail message."""
    return _sent_field(result, ("id", "messageId"), ("messageId", "message_id", "id"))


def parse_thread_id(result: Any) -> str | None:
    """The id of the Gmail thread the sent message is in (later mails reply in it)."""
    return _sent_field(result, ("threadId",), ("threadId", "thread_id"))


def read_sent(payload: Any) -> dict[str, Any]:
    message_id = parse_message_id(payload)
    if not message_id:
        raise UnreadableAnswerError("Gmail answered without a message id")
    return {"message_id": message_id, "thread_id": parse_thread_id(payload)}


def find_marker(payload: Any, marker: str) -> dict[str, Any] | None:
    for message in listed(payload, "messages"):
        if not isinstance(message, Mapping):
            continue
        text = text_of(message.get("messageText")) + text_of(message.get("snippet"))
        if carries_marker(text, marker) and isinstance(message.get("messageId"), str):
            return {"message_id": message["messageId"], "thread_id": message.get("threadId")}
    return None


class GmailDestination:
    name = "gmail"
    routing_tools = (SEND_EMAIL, REPLY_TO_THREAD)

    def plan(self, request: PlanRequest) -> Plan:
        if request.thread is None and request.ctx.event in INCIDENT_NOTICES:
            return Skip("no mail was sent about this incident")
        marker = request.marker("send")
        call = render(request.summary, request.ctx, recipients=request.target.recipients)
        call = call.with_arguments(
            body=f"{call.arguments['body']}\n<p><small>{reference_note(marker)}</small></p>"
        )
        if request.thread is not None:
            call = as_reply(call, thread_id_of(request.thread))

        def probe(started: datetime) -> Probe:
            query = {"query": f'in:sent "{reference_note(marker)}"', "max_results": 5}
            return Probe(ToolCall(FETCH_EMAILS, query), find_marker)

        return [Step("send", call, read_sent, marker, probe, opens_thread=request.thread is None)]

    def opened_thread(
        self, target: Target, ctx: AlertContext, result: Mapping[str, Any]
    ) -> ThreadOpened | None:
        message_id = result.get("message_id")
        if not message_id:
            return None
        thread_id = result.get("thread_id") or message_id
        return ThreadOpened(str(message_id), data={"thread_id": str(thread_id)})


def thread_id_of(thread: OpenThread) -> str:
    """The Gmail thread of the incident's first mail. Threads opened before the id was kept
    hold only the first message's id, which Gmail also uses as the id of the thread it
    starts."""
    return str(thread.data.get("thread_id") or thread.thread_ref)


GMAIL = GmailDestination()
