"""With Composio, readiness waits until the session's live tool schemas accept the calls
Tracer builds, and names the tool and argument when they do not."""

from __future__ import annotations

from typing import Any

import asyncpg
from rich.console import Console

from tests.agent.composio_server import composio_on_loopback
from tests.agent.helpers import agent_settings, eventually, run_agent
from tracer.commands.doctor import doctor_checks, render_checks
from tracer_agent.routing import default_rules

# What SLACK_SEND_MESSAGE looked like before `markdown_text`: Tracer's calls would be refused.
OLD_SLACK_SEND = {
    "type": "object",
    "properties": {"channel": {"type": "string"}, "text": {"type": "string"},
                   "thread_ts": {"type": "string"}, "reply_broadcast": {"type": "boolean"}},
    "required": ["channel", "text"],
    "additionalProperties": False,
}  # fmt: skip


async def _readiness(agent: Any, wanted: int) -> dict[str, Any] | None:
    answer = await agent.client().get("/readyz")
    body: dict[str, Any] = answer.json()
    return body if answer.status_code == wanted else None


async def test_ready_when_the_live_schemas_accept_tracers_calls(
    database_url: str, pool: asyncpg.Pool
) -> None:
    async with composio_on_loopback(pool) as composio:
        settings = agent_settings(
            database_url, composio_api_key="ck-test", composio_base_url=composio.base_url
        )
        async with run_agent(settings) as agent:
            body = await eventually(lambda: _readiness(agent, 200))
    assert body == {"status": "ready"}


async def test_a_changed_schema_fails_readiness_naming_tool_and_argument(
    database_url: str, pool: asyncpg.Pool
) -> None:
    overrides = {"SLACK_SEND_MESSAGE": OLD_SLACK_SEND}
    async with composio_on_loopback(pool, schema_overrides=overrides) as composio:
        settings = agent_settings(
            database_url,
            composio_api_key="ck-test",
            composio_base_url=composio.base_url,
            delivery_worker=False,
        )
        async with run_agent(settings) as agent:
            body = await eventually(lambda: _refused_over_slack(agent))
    error = body["error"]
    assert "SLACK_SEND_MESSAGE (slack)" in error
    assert "unexpected argument 'markdown_text'" in error
    assert "'text' is a required property" in error


async def _refused_over_slack(agent: Any) -> dict[str, Any] | None:
    body = await _readiness(agent, 503)
    return body if body and "SLACK_SEND_MESSAGE" in body.get("error", "") else None


async def test_doctor_lists_each_tool_with_its_schema_date_and_verdict(
    database_url: str, pool: asyncpg.Pool
) -> None:
    overrides = {"SLACK_SEND_MESSAGE": OLD_SLACK_SEND}
    async with composio_on_loopback(pool, schema_overrides=overrides) as composio:
        settings = agent_settings(
            database_url, composio_api_key="ck-test", composio_base_url=composio.base_url
        )
        checks = await doctor_checks(settings, default_rules())
    by_tool = {check.tool: check for check in checks}
    assert by_tool["SLACK_SEND_MESSAGE"].schema_source == "live"
    assert not by_tool["SLACK_SEND_MESSAGE"].ok
    assert by_tool["JIRA_CREATE_ISSUE"].ok
    assert by_tool["SLACK_FETCH_CONVERSATION_HISTORY"].schema_source == "recorded"
    console = Console(width=400, record=True)
    console.print(render_checks(checks, live=True))
    text = console.export_text()
    assert "20260721_00, 2026-08" in text
    assert "NO: missing required argument" in text
    recorded_only = await doctor_checks(
        settings.model_copy(update={"composio_api_key": None}), default_rules()
    )
    assert all(check.ok and check.schema_source == "recorded" for check in recorded_only)
