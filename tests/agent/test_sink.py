"""The local MCP sink over real streamable HTTP: Composio's tool names and shapes, realistic
answers, refusals like the real services', storage in PostgreSQL, and DNS-rebinding
protection that admits local clients only (callers' keys: test_sink_auth.py)."""

from __future__ import annotations

import asyncpg
import httpx

from tests.agent.helpers import agent_settings, new_key, run_agent
from tracer_ai.destinations.schemas import recorded_schema
from tracer_ai.mcp_toolbox import McpToolbox
from tracer_core.models import Role


async def test_sink_tools_answer_like_the_services_and_are_listed_newest_first(
    database_url: str, pool: asyncpg.Pool
) -> None:
    engineer = await new_key(pool, Role.ENGINEER)
    async with run_agent(agent_settings(database_url, delivery_worker=False)) as agent:
        auth = {"authorization": f"Bearer {engineer}"}
        async with McpToolbox.connect(f"{agent.url}/sink/mcp", headers=auth) as box:
            names = await box.tool_names()
            assert {"SLACK_SEND_MESSAGE", "JIRA_CREATE_ISSUE", "JIRA_ADD_COMMENT",
                    "JIRA_TRANSITION_ISSUE", "PAGERDUTY_CREATE_INCIDENT_RECORD",
                    "PAGERDUTY_UPDATE_INCIDENT_BY_ID", "GMAIL_SEND_EMAIL"} <= names  # fmt: skip
            posted = await box.call_tool(
                "SLACK_SEND_MESSAGE", {"channel": "#ops", "markdown_text": "hi"}
            )
            assert posted.ok
            ts = posted.structured["data"]["ts"]
            reply = await box.call_tool(
                "SLACK_SEND_MESSAGE", {"channel": "#ops", "markdown_text": "again", "thread_ts": ts}
            )
            assert reply.ok
            assert float(reply.structured["data"]["ts"]) > float(ts)
            orphan = await box.call_tool(
                "SLACK_SEND_MESSAGE",
                {"channel": "#ops", "markdown_text": "x", "thread_ts": "1.000001"},
            )
            assert orphan.error_kind == "tool_error"
            assert "thread_not_found" in (orphan.error or "")
            issue = await box.call_tool(
                "JIRA_CREATE_ISSUE", {"project_key": "OPS", "summary": "s", "issue_type": "Bug"}
            )
            assert issue.structured["data"]["key"] == "OPS-1"
            missing = await box.call_tool(
                "JIRA_ADD_COMMENT", {"issue_id_or_key": "OPS-9", "comment": "c"}
            )
            assert missing.error_kind == "tool_error"
            args = {"incident__title": "t", "incident__service__id": "PSVC",
                    "incident__incident__key": "k1"}  # fmt: skip
            first = await box.call_tool("PAGERDUTY_CREATE_INCIDENT_RECORD", args)
            again = await box.call_tool("PAGERDUTY_CREATE_INCIDENT_RECORD", args)
            assert first.ok
            assert again.error_kind == "tool_error"  # REST create refuses an open key
            assert "matching dedup key" in (again.error or "")
            found = await box.call_tool("PAGERDUTY_FETCH_INCIDENT_LIST", {"incident_key": "k1"})
            [incident] = found.structured["data"]["incidents"]
            assert incident["id"] == first.structured["data"]["incident"]["id"]
            bad_mail = await box.call_tool("GMAIL_SEND_EMAIL", {"recipient_email": "nobody"})
            assert bad_mail.error_kind == "tool_error"

        listed = await agent.client(engineer).get("/api/sink/messages")
        tools = [m["tool"] for m in listed.json()]
        assert tools == [
            "PAGERDUTY_CREATE_INCIDENT_RECORD", "JIRA_CREATE_ISSUE", "SLACK_SEND_MESSAGE",
            "SLACK_SEND_MESSAGE",
        ]  # fmt: skip
        only_slack = await agent.client(engineer).get(
            "/api/sink/messages", params={"toolkit": "slack", "limit": 1}
        )
        assert [m["external_id"] for m in only_slack.json()] == [reply.structured["data"]["ts"]]

        async with httpx.AsyncClient() as raw:
            foreign = await raw.post(
                f"{agent.url}/sink/mcp",
                headers={"host": "attacker.example", "content-type": "application/json",
                         "accept": "application/json, text/event-stream", **auth},
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            )  # fmt: skip
        assert foreign.status_code == 421


async def test_sink_serves_the_recorded_schemas_and_refuses_what_they_refuse(
    database_url: str, pool: asyncpg.Pool
) -> None:
    engineer = await new_key(pool, Role.ENGINEER)
    async with run_agent(agent_settings(database_url, delivery_worker=False)) as agent:
        auth = {"authorization": f"Bearer {engineer}"}
        async with McpToolbox.connect(f"{agent.url}/sink/mcp", headers=auth) as box:
            for tool in await box.list_tools():
                recorded = recorded_schema(tool.name)
                assert recorded is not None, tool.name
                assert tool.input_schema == recorded.input_schema
            refused = await box.call_tool("SLACK_SEND_MESSAGE", {"channel": "#ops", "text": "hi"})
            assert refused.error_kind == "tool_error"
            assert "unexpected argument 'text'" in (refused.error or "")
            posted = await box.call_tool(
                "SLACK_SEND_MESSAGE", {"channel": "#ops", "markdown_text": "**hi**"}
            )
            assert posted.ok
            typo = await box.call_tool(
                "JIRA_CREATE_ISSUE", {"project_key": "OPS", "summary": "s", "labelz": ["x"]}
            )
            assert "unexpected argument 'labelz'" in (typo.error or "")
        stored = (await agent.client(engineer).get("/api/sink/messages")).json()
    assert [m["arguments"] for m in stored] == [{"channel": "#ops", "markdown_text": "**hi**"}]
