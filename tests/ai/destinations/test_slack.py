"""Slack: mrkdwn rendering and escaping, thread replies, the crash probe, answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.ai.alerts import make_context, make_summary
from tests.ai.destinations.targets import HOSTILE, Target, Thread
from tracer_ai.destinations import slack
from tracer_ai.destinations.base import PlanRequest, Step, UnreadableAnswerError
from tracer_ai.mcp_toolbox import ToolResult
from tracer_ai.summary import SampleMessage
from tracer_core.models import AlertEventKind

STARTED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_slack_message_is_mrkdwn_with_escaped_untrusted_text() -> None:
    ctx = make_context(samples=[SampleMessage(message=HOSTILE, count=9)])
    call = slack.render(make_summary(likely_cause=HOSTILE), ctx, channel="#ops")
    assert call.slug == "SLACK_SEND_MESSAGE"
    assert call.arguments["channel"] == "#ops"
    assert "thread_ts" not in call.arguments
    text = call.arguments["text"]
    assert "*New alert: Checkout errors jumped to 42%*" in text
    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text
    assert "<script>" not in text
    assert "<https://evil.example|click>" not in text
    assert "<http://127.0.0.1:8000/alerts/42|Open in Tracer>" in text
    assert "• 9× `" in text


def test_slack_thread_reply_and_length_limit() -> None:
    summary = make_summary(what_happened="x" * 10_000)
    ctx = make_context(event=AlertEventKind.RESOLVED)
    call = slack.render(summary, ctx, channel="C123", thread_ts="1700000000.000100")
    assert call.arguments["thread_ts"] == "1700000000.000100"
    assert len(call.arguments["text"]) <= slack.TEXT_LIMIT
    assert call.arguments["text"].startswith(":large_orange_circle: *Resolved:")
    with pytest.raises(ValueError, match="channel"):
        slack.render(summary, ctx, channel=" ")


def _only_step(plan: object) -> Step:
    assert isinstance(plan, list)
    assert len(plan) == 1
    step = plan[0]
    assert isinstance(step, Step)
    return step


def test_first_post_opens_a_thread_found_again_in_the_channel_history() -> None:
    step = _only_step(
        slack.SLACK.plan(
            PlanRequest(7, Target(channel="#ops"), make_context(), make_summary(), None)
        )
    )
    assert (step.name, step.marker, step.opens_thread) == ("post", "tracer-d7-post", True)
    assert step.call.arguments["text"].endswith("\n_Tracer ref d7-post_")
    assert "tracer-d7" not in step.call.arguments["text"]
    assert step.probe is not None
    probe = step.probe(STARTED)
    assert probe.call.slug == "SLACK_FETCH_CONVERSATION_HISTORY"
    assert probe.call.arguments == {
        "channel": "#ops",
        "oldest": f"{STARTED.timestamp() - 60:.6f}",
        "limit": 200,
    }
    history = {"successful": True, "data": {"messages": [{"text": "x _Tracer ref d7-post_",
                                                          "ts": "1.5"}]}}  # fmt: skip
    assert probe.find(history, step.marker) == {"ts": "1.5", "channel": None}
    assert probe.find(history, "tracer-d8-post") is None
    assert probe.find(history, "tracer-d7-postx") is None
    # Messages posted by earlier versions carried the raw marker; they are still found.
    legacy = {"messages": [{"text": "x _ref tracer-d7-post_", "ts": "1.6"}]}
    assert probe.find(legacy, step.marker) == {"ts": "1.6", "channel": None}


def test_escalation_replies_in_the_thread_and_reaches_the_channel() -> None:
    ctx = make_context(event=AlertEventKind.ESCALATED)
    thread = Thread("1700.1")
    step = _only_step(
        slack.SLACK.plan(PlanRequest(7, Target(channel="#ops"), ctx, make_summary(), thread))
    )
    assert step.opens_thread is False
    assert step.call.arguments["thread_ts"] == "1700.1"
    assert step.call.arguments["reply_broadcast"] is True
    assert step.probe is not None
    probe = step.probe(STARTED)
    assert probe.call.slug == "SLACK_FETCH_MESSAGE_THREAD_FROM_A_CONVERSATION"
    assert probe.call.arguments == {"channel": "#ops", "ts": "1700.1"}
    resolved = make_context(event=AlertEventKind.RESOLVED)
    reply = _only_step(
        slack.SLACK.plan(PlanRequest(7, Target(channel="#ops"), resolved, make_summary(), thread))
    )
    assert "reply_broadcast" not in reply.call.arguments


def test_answers_give_the_ts_and_the_thread() -> None:
    answer = {"successful": True, "data": {"ok": True, "channel": "C1", "ts": "1700.42"}}
    assert slack.parse_ts(answer) == "1700.42"
    assert slack.parse_ts(ToolResult(True, json.dumps(answer))) == "1700.42"
    assert slack.parse_ts(ToolResult(True, "", structured=answer)) == "1700.42"
    assert slack.parse_ts(ToolResult(True, "not json")) is None
    recorded = slack.read_post(answer)
    assert recorded == {"ts": "1700.42", "channel": "C1"}
    with pytest.raises(UnreadableAnswerError):
        slack.read_post({"successful": True, "data": {"ok": True}})
    opened = slack.SLACK.opened_thread(Target(channel="#ops"), make_context(), recorded)
    assert opened is not None
    assert (opened.ref, opened.channel) == ("1700.42", "C1")
    fallback = slack.SLACK.opened_thread(Target(channel="#ops"), make_context(), {"ts": "2.0"})
    assert fallback is not None
    assert fallback.channel == "#ops"
    assert slack.SLACK.opened_thread(Target(channel="#ops"), make_context(), {"ts": None}) is None
