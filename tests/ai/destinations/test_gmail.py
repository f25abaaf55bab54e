"""Gmail: escaped HTML mail, validated recipients, the sent-mail probe, answers."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest

from tests.ai.alerts import make_context, make_summary
from tests.ai.destinations.targets import HOSTILE, Target, Thread
from tracer_ai.destinations import gmail
from tracer_ai.destinations.base import PlanRequest, UnreadableAnswerError
from tracer_ai.summary import SampleMessage

ONCALL = Target(recipients=("oncall@example.com",))


def test_gmail_body_is_html_escaped() -> None:
    ctx = make_context(samples=[SampleMessage(message=HOSTILE, count=2)])
    call = gmail.render(
        make_summary(impact=HOSTILE), ctx, recipients=["oncall@example.com", " sre@example.com "]
    )
    assert call.slug == "GMAIL_SEND_EMAIL"
    args = call.arguments
    assert args["recipient_email"] == "oncall@example.com"
    assert args["extra_recipients"] == ["sre@example.com"]
    assert args["is_html"] is True
    assert args["subject"] == "[Tracer] New alert: Checkout errors jumped to 42%"
    assert "<script>" not in args["body"]
    assert html.escape(HOSTILE) in args["body"]
    assert '<a href="http://127.0.0.1:8000/alerts/42">' in args["body"]


def test_gmail_recipients_are_validated() -> None:
    with pytest.raises(ValueError, match="no mail recipients"):
        gmail.render(make_summary(), make_context(), recipients=["  "])
    with pytest.raises(ValueError, match="invalid"):
        gmail.render(make_summary(), make_context(), recipients=["a@b.c", "x@y.z\r\nBcc: evil@e.x"])


def test_every_event_sends_a_mail_whose_marker_the_probe_searches() -> None:
    plan = gmail.GMAIL.plan(PlanRequest(5, ONCALL, make_context(), make_summary(), None))
    assert isinstance(plan, list)
    [step] = plan
    assert (step.name, step.opens_thread) == ("send", True)
    assert step.call.arguments["body"].endswith("\n<p><small>Tracer ref d5-send</small></p>")
    assert step.probe is not None
    probe = step.probe(datetime(2026, 3, 1, tzinfo=UTC))
    assert probe.call.slug == "GMAIL_FETCH_EMAILS"
    assert probe.call.arguments == {"query": 'in:sent "Tracer ref d5-send"', "max_results": 5}
    sent = {
        "messages": [{"messageId": "m1", "threadId": "t1", "messageText": "Tracer ref d5-send"}]
    }
    assert probe.find(sent, step.marker) == {"message_id": "m1", "thread_id": "t1"}
    assert probe.find(sent, "tracer-d6-send") is None


def test_later_mails_are_replies_in_the_first_mails_thread() -> None:
    thread = Thread("m1", {"thread_id": "t1"})
    later = gmail.GMAIL.plan(PlanRequest(6, ONCALL, make_context(), make_summary(), thread))
    assert isinstance(later, list)
    [step] = later
    assert step.opens_thread is False
    assert step.call.slug == "GMAIL_REPLY_TO_THREAD"
    args = step.call.arguments
    assert (args["thread_id"], args["recipient_email"], args["is_html"]) == (
        "t1",
        "oncall@example.com",
        True,
    )
    assert "subject" not in args
    assert "body" not in args
    assert args["message_body"].endswith("\n<p><small>Tracer ref d6-send</small></p>")
    assert step.probe is not None
    probe = step.probe(datetime(2026, 3, 1, tzinfo=UTC))
    assert probe.call.arguments == {"query": 'in:sent "Tracer ref d6-send"', "max_results": 5}
    # A thread kept before the thread id was: the first message's id is the thread's id.
    older = gmail.GMAIL.plan(PlanRequest(7, ONCALL, make_context(), make_summary(), Thread("m1")))
    assert isinstance(older, list)
    assert older[0].call.arguments["thread_id"] == "m1"


def test_answers_give_the_message_id() -> None:
    answer = {"successful": True, "data": {"response_data": {"id": "18c0ffee", "threadId": "t1"}}}
    assert gmail.parse_message_id(answer) == "18c0ffee"
    flat = {"successful": True, "data": {"id": "m2", "threadId": "t2"}}
    assert gmail.read_sent(flat) == {"message_id": "m2", "thread_id": "t2"}
    with pytest.raises(UnreadableAnswerError):
        gmail.read_sent({"successful": True, "data": {}})
    nested = gmail.read_sent(answer)
    assert nested == {"message_id": "18c0ffee", "thread_id": "t1"}
    opened = gmail.GMAIL.opened_thread(ONCALL, make_context(), nested)
    assert opened is not None
    assert (opened.ref, opened.data) == ("18c0ffee", {"thread_id": "t1"})
    bare = gmail.GMAIL.opened_thread(ONCALL, make_context(), {"message_id": "m2"})
    assert bare is not None
    assert (bare.ref, bare.data) == ("m2", {"thread_id": "m2"})
