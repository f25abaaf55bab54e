"""Renderers: slugs and argument names, limits, escaping; result readers."""

from __future__ import annotations

import html
import json

import pytest

from tests.ai.alerts import make_context, make_summary
from tracer_ai.mcp_toolbox import ToolResult
from tracer_ai.render import (
    JIRA_SUMMARY_LIMIT,
    PAGERDUTY_TITLE_LIMIT,
    SLACK_TEXT_LIMIT,
    parse_gmail_message_id,
    parse_jira_issue_key,
    parse_pagerduty_incident_id,
    parse_slack_ts,
    render_gmail,
    render_jira_comment,
    render_jira_issue,
    render_pagerduty,
    render_slack,
)
from tracer_ai.summary import SampleMessage
from tracer_core.models import AlertEventKind, Severity

HOSTILE = "<!channel> <script>alert(1)</script> & `rm -rf /` <https://evil.example|click>"


def test_slack_message_is_mrkdwn_with_escaped_untrusted_text() -> None:
    ctx = make_context(samples=[SampleMessage(message=HOSTILE, count=9)])
    call = render_slack(make_summary(likely_cause=HOSTILE), ctx, channel="#ops")
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
    call = render_slack(summary, ctx, channel="C123", thread_ts="1700000000.000100")
    assert call.arguments["thread_ts"] == "1700000000.000100"
    assert len(call.arguments["text"]) <= SLACK_TEXT_LIMIT
    assert call.arguments["text"].startswith(":large_orange_circle: *Resolved:")
    with pytest.raises(ValueError, match="channel"):
        render_slack(summary, ctx, channel=" ")


def test_jira_issue_arguments_and_limits() -> None:
    summary = make_summary(title="t" * 400 + "\nsecond line")
    call = render_jira_issue(summary, make_context(), project_key="OPS", set_priority=True)
    assert call.slug == "JIRA_CREATE_ISSUE"
    args = call.arguments
    assert args["project_key"] == "OPS"
    assert args["issue_type"] == "Bug"
    assert len(args["summary"]) <= JIRA_SUMMARY_LIMIT
    assert "\n" not in args["summary"]
    assert args["summary"].startswith("[high] ")
    assert args["labels"] == ["tracer", "error_spike"]
    assert args["priority"] == "High"
    assert "**Next steps:**" in args["description"]
    assert "`shop/checkout/error_spike`" in args["description"]


def test_jira_comment_targets_the_existing_issue() -> None:
    ctx = make_context(event=AlertEventKind.ESCALATED, severity=Severity.CRITICAL)
    call = render_jira_comment(make_summary(), ctx, issue_key="OPS-12")
    assert call.slug == "JIRA_ADD_COMMENT"
    assert call.arguments["issue_id_or_key"] == "OPS-12"
    assert call.arguments["comment"].startswith("*Escalated*")
    with pytest.raises(ValueError, match="issue key"):
        render_jira_comment(make_summary(), ctx, issue_key="")


def test_pagerduty_trigger_uses_fingerprint_as_incident_key_and_bounds_title() -> None:
    summary = make_summary(title="y" * 3000)
    call = render_pagerduty(summary, make_context(severity=Severity.CRITICAL), service_id="PSVC1")
    assert call.slug == "PAGERDUTY_CREATE_INCIDENT_RECORD"
    args = call.arguments
    assert args["incident__incident__key"] == "shop/checkout/error_spike"
    assert args["incident__service__id"] == "PSVC1"
    assert args["incident__service__type"] == "service_reference"
    assert args["incident__urgency"] == "high"
    assert len(args["incident__title"]) <= PAGERDUTY_TITLE_LIMIT
    low = render_pagerduty(make_summary(), make_context(severity=Severity.LOW), service_id="P")
    assert low.arguments["incident__urgency"] == "low"
    custom = render_pagerduty(make_summary(), make_context(), service_id="P", dedup_key="k")
    assert custom.arguments["incident__incident__key"] == "k"


def test_pagerduty_resolve_needs_the_incident_id() -> None:
    ctx = make_context(event=AlertEventKind.RESOLVED)
    call = render_pagerduty(make_summary(), ctx, service_id="P", action="resolve", incident_id="Q1")
    assert call.slug == "PAGERDUTY_UPDATE_INCIDENT_BY_ID"
    assert call.arguments["id"] == "Q1"
    assert call.arguments["incident__status"] == "resolved"
    with pytest.raises(ValueError, match="incident id"):
        render_pagerduty(make_summary(), ctx, service_id="P", action="resolve")


def test_gmail_body_is_html_escaped() -> None:
    ctx = make_context(samples=[SampleMessage(message=HOSTILE, count=2)])
    call = render_gmail(
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
        render_gmail(make_summary(), make_context(), recipients=["  "])
    with pytest.raises(ValueError, match="invalid"):
        render_gmail(make_summary(), make_context(), recipients=["a@b.c", "x@y.z\r\nBcc: evil@e.x"])


def test_template_summaries_render_everywhere_without_non_finite_numbers() -> None:
    from tracer_ai.summary import template_summary

    ctx = make_context(details={"observed": 1e-9, "baseline_mean": 0.0, "z_score": 1e12})
    summary = template_summary(ctx)
    texts = [
        render_slack(summary, ctx, channel="#a").arguments["text"],
        render_jira_issue(summary, ctx, project_key="A").arguments["description"],
        render_pagerduty(summary, ctx, service_id="P").arguments["incident__body__details"],
        render_gmail(summary, ctx, recipients=["a@b.c"]).arguments["body"],
    ]
    for text in texts:
        assert "nan" not in text.lower().split()
        assert "inf" not in text.lower().split()
        assert "Template summary" in text


def test_result_readers_find_ids_in_composio_shaped_results() -> None:
    slack = {"successful": True, "data": {"ok": True, "channel": "C1", "ts": "1700.42"}}
    jira = {"successful": True, "data": {"id": "10001", "key": "OPS-7", "self": "https://x"}}
    pagerduty = {"successful": True, "data": {"incident": {"id": "Q2ABC", "incident_number": 7}}}
    gmail = {"successful": True, "data": {"response_data": {"id": "18c0ffee", "threadId": "t1"}}}
    assert parse_slack_ts(slack) == "1700.42"
    assert parse_slack_ts(ToolResult(True, json.dumps(slack))) == "1700.42"
    assert parse_slack_ts(ToolResult(True, "", structured=slack)) == "1700.42"
    assert parse_jira_issue_key(jira) == "OPS-7"
    assert parse_pagerduty_incident_id(pagerduty) == "Q2ABC"
    assert parse_gmail_message_id(gmail) == "18c0ffee"
    assert parse_slack_ts(ToolResult(True, "not json")) is None
    assert parse_jira_issue_key({"successful": False, "data": {}}) is None
