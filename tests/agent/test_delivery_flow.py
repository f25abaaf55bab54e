"""The delivery worker against the local MCP sink, over real HTTP and a real database: an
alert reaches each routed destination once, and its escalation and resolution follow it into
the same Slack thread, Jira issue and PagerDuty incident."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import respx

from tests.agent.helpers import add_event, agent_settings, open_alert, run_agent
from tests.fakes.openai_bridge import bridged_client, chat_completion
from tests.support import eventually


async def _deliveries(pool: asyncpg.Pool, alert_id: int) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        """
        SELECT d.id, d.destination, d.toolkit, d.status, d.result, d.attempts, e.kind
        FROM deliveries d JOIN alert_events e ON e.id = d.event_id
        WHERE d.alert_id = $1 ORDER BY d.id
        """,
        alert_id,
    )
    return [dict(row) for row in rows]


async def _all_delivered(
    pool: asyncpg.Pool, alert_id: int, count: int
) -> list[dict[str, Any]] | None:
    found = await _deliveries(pool, alert_id)
    if len(found) == count and all(d["status"] == "delivered" for d in found):
        return found
    return None


async def _sink(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT tool, toolkit, target, external_id, thread_ref, arguments FROM sink_messages "
        "ORDER BY id"
    )
    return [dict(row) for row in rows]


async def test_high_alert_reaches_jira_and_slack_once(
    database_url: str, pool: asyncpg.Pool
) -> None:
    async with run_agent(agent_settings(database_url)):
        alert_id, _ = await open_alert(pool, severity="high")
        done = await eventually(lambda: _all_delivered(pool, alert_id, 2))
    by_toolkit = {d["toolkit"]: d for d in done}
    assert set(by_toolkit) == {"jira", "slack"}
    sink = await _sink(pool)
    assert [m["tool"] for m in sink].count("SLACK_SEND_MESSAGE") == 1
    assert [m["tool"] for m in sink].count("JIRA_CREATE_ISSUE") == 1
    issue = next(m for m in sink if m["tool"] == "JIRA_CREATE_ISSUE")
    assert by_toolkit["jira"]["result"]["issue_key"] == issue["external_id"] == "OPS-1"
    slack = next(m for m in sink if m["tool"] == "SLACK_SEND_MESSAGE")
    assert by_toolkit["slack"]["result"]["ts"] == slack["external_id"]
    assert "checkout" in slack["arguments"]["markdown_text"]
    assert by_toolkit["slack"]["result"]["summary_source"] == "template"


async def test_escalation_and_resolution_follow_the_first_message(
    database_url: str, pool: asyncpg.Pool
) -> None:
    async with run_agent(agent_settings(database_url)):
        alert_id, _ = await open_alert(pool, severity="high")
        await eventually(lambda: _all_delivered(pool, alert_id, 2))
        await add_event(pool, alert_id, "escalated", "critical")
        # Escalated to critical: Slack and Jira follow up, and PagerDuty now pages.
        await eventually(lambda: _all_delivered(pool, alert_id, 5))
        await add_event(pool, alert_id, "resolved", "critical")
        done = await eventually(lambda: _all_delivered(pool, alert_id, 8))

    sink = await _sink(pool)
    slack = [m for m in sink if m["toolkit"] == "slack"]
    parent_ts = slack[0]["external_id"]
    assert slack[0]["thread_ref"] is None
    assert [m["thread_ref"] for m in slack[1:]] == [parent_ts, parent_ts]
    assert slack[1]["arguments"].get("reply_broadcast") is True

    jira = [m for m in sink if m["toolkit"] == "jira"]
    assert [m["tool"] for m in jira] == [
        "JIRA_CREATE_ISSUE", "JIRA_ADD_COMMENT", "JIRA_ADD_COMMENT", "JIRA_TRANSITION_ISSUE",
    ]  # fmt: skip
    assert {m["thread_ref"] for m in jira} == {"OPS-1"}
    assert (
        await pool.fetchval("SELECT status FROM sink_jira_issues WHERE issue_key = 'OPS-1'")
        == "Done"
    )

    pagerduty = [m for m in sink if m["toolkit"] == "pagerduty"]
    assert [m["tool"] for m in pagerduty] == [
        "PAGERDUTY_CREATE_INCIDENT_RECORD", "PAGERDUTY_UPDATE_INCIDENT_BY_ID",
    ]  # fmt: skip
    assert {m["thread_ref"] for m in pagerduty} == {"default/checkout/error_spike"}
    assert pagerduty[1]["arguments"]["incident__status"] == "resolved"
    incident = await pool.fetchrow("SELECT status, dedup_key FROM sink_pagerduty_incidents")
    assert incident is not None
    assert incident["status"] == "resolved"

    threads = await pool.fetch("SELECT destination, thread_ref FROM delivery_threads ORDER BY 1")
    assert {r["destination"]: r["thread_ref"] for r in threads} == {
        "jira-ops": "OPS-1",
        "pagerduty-oncall": "default/checkout/error_spike",
        "slack-incidents": parent_ts,
    }
    assert all(d["attempts"] == 1 for d in done)


async def test_one_llm_summary_per_event_reaches_every_destination(
    database_url: str, pool: asyncpg.Pool
) -> None:
    summary = {
        "title": "Checkout failing on payment gateway timeouts",
        "what_happened": "Errors on checkout rose from 1% to 42% in ten seconds.",
        "impact": "Four in ten orders fail.",
        "likely_cause": "The payment gateway stopped answering.",
        "next_steps": ["Check the payment gateway status page"],
        "confidence": "medium",
    }
    api = respx.Router(base_url="https://api.openai.com/v1", assert_all_mocked=True)
    route = api.post("/chat/completions").respond(json=chat_completion(json.dumps(summary)))
    settings = agent_settings(database_url, openai_api_key="sk-test")
    async with run_agent(settings, llm_http_client=bridged_client(api)):
        alert_id, event_id = await open_alert(pool, severity="high")
        await eventually(lambda: _all_delivered(pool, alert_id, 2))
    assert route.call_count == 1  # one summary for the event, shared by Slack and Jira
    sink = await _sink(pool)
    slack = next(m for m in sink if m["tool"] == "SLACK_SEND_MESSAGE")
    issue = next(m for m in sink if m["tool"] == "JIRA_CREATE_ISSUE")
    assert summary["title"] in slack["arguments"]["markdown_text"]
    assert "Summary by gpt-4.1-mini" in slack["arguments"]["markdown_text"]
    assert summary["title"] in issue["arguments"]["summary"]
    assert summary["likely_cause"] in issue["arguments"]["description"]
    stored = await pool.fetchrow(
        "SELECT source, model FROM alert_summaries WHERE event_id = $1", event_id
    )
    assert stored is not None
    assert (stored["source"], stored["model"]) == ("llm", "gpt-4.1-mini")
    assert (
        await pool.fetchval("SELECT count(*) FROM llm_usage WHERE purpose = 'alert_summary'") == 1
    )


async def test_a_reopened_alert_goes_back_to_its_thread_issue_and_pager(
    database_url: str, pool: asyncpg.Pool
) -> None:
    async with run_agent(agent_settings(database_url)):
        alert_id, _ = await open_alert(pool, severity="critical")
        await eventually(lambda: _all_delivered(pool, alert_id, 2))
        await add_event(pool, alert_id, "resolved", "critical")
        await eventually(lambda: _all_delivered(pool, alert_id, 4))
        await add_event(pool, alert_id, "reopened", "critical")
        await eventually(lambda: _all_delivered(pool, alert_id, 6))

    sink = await _sink(pool)
    slack = [m for m in sink if m["toolkit"] == "slack"]
    assert [m["thread_ref"] for m in slack] == [
        None,
        slack[0]["external_id"],
        slack[0]["external_id"],
    ]
    pagerduty = [m for m in sink if m["toolkit"] == "pagerduty"]
    assert [m["tool"] for m in pagerduty] == [
        "PAGERDUTY_CREATE_INCIDENT_RECORD", "PAGERDUTY_UPDATE_INCIDENT_BY_ID",
        "PAGERDUTY_CREATE_INCIDENT_RECORD",
    ]  # fmt: skip
    incidents = await pool.fetch(
        "SELECT incident_id, dedup_key, status FROM sink_pagerduty_incidents ORDER BY 1"
    )
    assert {r["dedup_key"] for r in incidents} == {"default/checkout/error_spike"}
    assert sorted(r["status"] for r in incidents) == ["resolved", "triggered"]
    thread = await pool.fetchrow(
        "SELECT thread_ref, data FROM delivery_threads WHERE destination = 'pagerduty-oncall'"
    )
    assert thread is not None
    open_incident = next(r["incident_id"] for r in incidents if r["status"] == "triggered")
    assert thread["data"]["incident_id"] == open_incident  # a later resolve closes the new one
