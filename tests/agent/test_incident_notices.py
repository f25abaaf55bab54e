"""Acting on an incident is heard in every thread it opened: an acknowledgement is a Slack
reply, a Jira comment and a PagerDuty acknowledge; a resolution by hand is a reply, a comment
with the resolve transition and a PagerDuty resolve; all through the local sink."""

from __future__ import annotations

import asyncpg

from tests.agent.helpers import (
    add_event,
    agent_settings,
    eventually,
    new_key,
    open_alert,
    run_agent,
    settled,
    sink_messages,
)
from tracer_core.models import Role


async def test_ack_unack_and_resolve_by_hand_reach_every_thread(
    database_url: str, pool: asyncpg.Pool
) -> None:
    async with run_agent(agent_settings(database_url)) as agent:
        key = await new_key(pool, Role.ENGINEER, "alice")
        alert_id, _ = await open_alert(pool, severity="high")  # Jira issue and Slack thread
        await eventually(lambda: settled(pool, 2))
        await add_event(pool, alert_id, "escalated", "critical")  # + PagerDuty incident
        await eventually(lambda: settled(pool, 5))
        incident_id = await pool.fetchval("SELECT incident_id FROM alerts WHERE id = $1", alert_id)
        before = len(await sink_messages(pool))
        async with agent.client(key) as client:
            assert (await client.post(f"/api/incidents/{incident_id}/ack")).status_code == 200
            # Acknowledging twice changes nothing and announces nothing.
            assert (await client.post(f"/api/incidents/{incident_id}/ack")).status_code == 200
            await eventually(lambda: settled(pool, 8))
            acked = (await sink_messages(pool))[before:]
            assert (await client.post(f"/api/incidents/{incident_id}/unack")).status_code == 200
            await eventually(lambda: settled(pool, 11))
            assert (await client.post(f"/api/incidents/{incident_id}/resolve")).status_code == 200
            await eventually(lambda: settled(pool, 14))
        agent_url = agent.url
    sink = await sink_messages(pool)
    threads = {
        row["toolkit"]: row["thread_ref"]
        for row in await pool.fetch("SELECT toolkit, thread_ref FROM delivery_threads")
    }

    by_tool = {m["tool"]: m for m in acked}
    assert set(by_tool) == {
        "SLACK_SEND_MESSAGE", "JIRA_ADD_COMMENT", "PAGERDUTY_UPDATE_INCIDENT_BY_ID",
    }  # fmt: skip
    slack = by_tool["SLACK_SEND_MESSAGE"]
    assert slack["thread_ref"] == threads["slack"]
    assert "acknowledged by alice" in slack["arguments"]["text"]
    assert f"{agent_url}/incidents/{incident_id}|Open in Tracer>" in slack["arguments"]["text"]
    jira = by_tool["JIRA_ADD_COMMENT"]
    assert jira["thread_ref"] == threads["jira"]
    assert "acknowledged by alice" in jira["arguments"]["comment"]
    pagerduty = by_tool["PAGERDUTY_UPDATE_INCIDENT_BY_ID"]["arguments"]
    assert pagerduty["incident__status"] == "acknowledged"

    after_unack = sink[before + 3 : before + 5]
    assert [m["tool"] for m in after_unack] == ["SLACK_SEND_MESSAGE", "JIRA_ADD_COMMENT"] or [
        m["tool"] for m in after_unack
    ] == ["JIRA_ADD_COMMENT", "SLACK_SEND_MESSAGE"]
    assert all("withdrawn by alice" in str(m["arguments"]) for m in after_unack)

    resolved = sink[before + 5 :]
    tools = sorted(m["tool"] for m in resolved)
    assert tools == [
        "JIRA_ADD_COMMENT", "JIRA_TRANSITION_ISSUE", "PAGERDUTY_UPDATE_INCIDENT_BY_ID",
        "SLACK_SEND_MESSAGE",
    ]  # fmt: skip
    assert all(
        m["thread_ref"] == threads[m["toolkit"]] for m in resolved if m["toolkit"] != "pagerduty"
    )
    closing = next(m for m in resolved if m["toolkit"] == "pagerduty")
    assert closing["arguments"]["incident__status"] == "resolved"
    assert (
        "resolved by hand by alice"
        in next(m for m in resolved if m["tool"] == "SLACK_SEND_MESSAGE")["arguments"]["text"]
    )
