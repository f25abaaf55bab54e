"""The same delivery flow through the real composio SDK: a faked Composio API on loopback
whose tool-router session URL is a real MCP server. Connections are made once by an admin for
the org routing user, and alerts go out through that user's session."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.agent.composio_server import composio_on_loopback
from tests.agent.helpers import (
    add_event,
    agent_settings,
    eventually,
    new_key,
    open_alert,
    run_agent,
)
from tracer_core.models import Role


async def _delivered(pool: asyncpg.Pool, count: int) -> list[dict[str, Any]] | None:
    rows = [dict(r) for r in await pool.fetch("SELECT toolkit, status, result FROM deliveries")]
    return rows if len(rows) == count and all(r["status"] == "delivered" for r in rows) else None


async def test_connect_once_then_route_through_the_org_session(
    database_url: str, pool: asyncpg.Pool
) -> None:
    admin = await new_key(pool, Role.ADMIN)
    engineer = await new_key(pool, Role.ENGINEER, name="alice")
    async with composio_on_loopback(pool) as composio:
        settings = agent_settings(
            database_url, composio_api_key="ck-test", composio_base_url=composio.base_url
        )
        async with run_agent(settings) as agent:
            made = await agent.client(admin).post(
                "/api/connections", json={"toolkit": "slack", "scope": "org"}
            )
            assert made.status_code == 201, made.text
            connection = made.json()
            assert connection["status"] == "INITIATED"
            assert connection["redirect_url"].startswith("https://connect.composio.dev/link/")
            assert connection["user_id"] == "tracer-org"
            again = await agent.client(admin).get("/api/connections")
            assert [c["status"] for c in again.json()] == ["INITIATED"]

            composio.fake.set_status(connection["id"], "ACTIVE")  # the admin finished OAuth
            page = await agent.client().get(
                "/api/connections/callback", params={"connected_account_id": connection["id"]}
            )
            assert page.status_code == 200
            assert "Slack is connected" in page.text
            listed = await agent.client(engineer).get("/api/connections")
            assert [(c["id"], c["status"]) for c in listed.json()] == [(connection["id"], "ACTIVE")]
            duplicate = await agent.client(admin).post(
                "/api/connections", json={"toolkit": "slack", "scope": "org"}
            )
            assert duplicate.status_code == 409
            forbidden = await agent.client(engineer).delete(f"/api/connections/{connection['id']}")
            assert forbidden.status_code == 403

            alert_id, _ = await open_alert(pool, severity="high")
            await eventually(lambda: _delivered(pool, 2))
            await add_event(pool, alert_id, "resolved", "high")
            done = await eventually(lambda: _delivered(pool, 4))

            removed = await agent.client(admin).delete(f"/api/connections/{connection['id']}")
            assert removed.status_code == 204
            assert (await agent.client(admin).get("/api/connections")).json() == []

        sessions = composio.fake.created
        assert sessions
        assert {s["user_id"] for s in sessions} == {"tracer-org"}
        assert "SLACK_SEND_MESSAGE" in sessions[0]["preload"]["tools"]
        assert composio.mcp_requests > 0
        # The transition is not preloaded: it went through the multi-execute meta tool.
        assert [c["tool_slug"] for c in composio.meta_calls] == ["JIRA_TRANSITION_ISSUE"]

    tools = [r["tool"] for r in await pool.fetch("SELECT tool FROM sink_messages ORDER BY id")]
    assert sorted(tools) == sorted([
        "SLACK_SEND_MESSAGE", "JIRA_CREATE_ISSUE", "SLACK_SEND_MESSAGE", "JIRA_ADD_COMMENT",
        "JIRA_TRANSITION_ISSUE",
    ])  # fmt: skip
    slack = [d for d in done if d["toolkit"] == "slack"]
    assert len({d["result"]["thread_ref"] for d in slack}) == 1
