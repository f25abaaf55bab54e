"""Who may call the local MCP sink, over real streamable HTTP: nobody without a key, nobody
with an unknown, revoked or ingest key; admin and engineer keys and the agent's own token,
which all replicas share through the database (or take from TRACER_SINK_TOKEN). The ingest
role gets 403, like a key of the wrong role on /api. No answer or log line carries a secret."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from tests.agent.helpers import agent_settings, new_key, open_alert, run_agent
from tests.support import eventually
from tracer_agent.app import create_app
from tracer_agent.auth.keys import revoke_key
from tracer_agent.sink.token import load_sink_token
from tracer_ai.errors import McpConnectError
from tracer_ai.mcp_toolbox import McpToolbox
from tracer_core.models import Role

_MCP_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
_SEND = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {
        "name": "SLACK_SEND_MESSAGE",
        "arguments": {"channel": "#ops", "markdown_text": "fake"},
    },
}


async def _post(url: str, authorization: str | None) -> httpx.Response:
    headers = dict(_MCP_HEADERS)
    if authorization is not None:
        headers["authorization"] = authorization
    async with httpx.AsyncClient(timeout=10.0) as raw:
        return await raw.post(f"{url}/sink/mcp", headers=headers, json=_SEND)


async def _stored_token(pool: asyncpg.Pool) -> str:
    token = await pool.fetchval("SELECT secret FROM agent_secrets WHERE name = 'sink_token'")
    assert isinstance(token, str)
    return token


async def test_sink_refuses_callers_without_an_admin_or_engineer_key(
    database_url: str, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ingest = await new_key(pool, Role.INGEST)
    revoked = await new_key(pool, Role.ENGINEER)
    await revoke_key(pool, prefix=revoked.split("_")[1])
    unknown = "trc_abcdefgh_" + "x" * 43
    async with run_agent(agent_settings(database_url, delivery_worker=False)) as agent:
        token = await _stored_token(pool)
        refusals = {
            "none": await _post(agent.url, None),
            "basic": await _post(agent.url, "Basic dXNlcjpwYXNz"),
            "empty": await _post(agent.url, "Bearer"),
            "unknown": await _post(agent.url, f"Bearer {unknown}"),
            "revoked": await _post(agent.url, f"Bearer {revoked}"),
            "almost the token": await _post(agent.url, f"Bearer {token}x"),
            "ingest": await _post(agent.url, f"Bearer {ingest}"),
        }
        with pytest.raises(McpConnectError):
            async with McpToolbox.connect(f"{agent.url}/sink/mcp"):
                pass
    statuses = {name: response.status_code for name, response in refusals.items()}
    assert statuses == {name: 403 if name == "ingest" else 401 for name in refusals}
    for name, response in refusals.items():
        assert response.headers["content-type"] == "application/json", name
        assert response.json()["detail"], name
        if name != "ingest":
            assert response.headers["www-authenticate"] == "Bearer", name
        for secret in (ingest, revoked, unknown, token):
            assert secret not in response.text, name
    assert "role admin, engineer" in refusals["ingest"].json()["detail"]
    assert await pool.fetchval("SELECT count(*) FROM sink_messages") == 0
    for secret in (ingest, revoked, unknown, token):
        assert secret not in caplog.text


async def test_sink_admits_admin_and_engineer_keys_and_the_agents_own_token(
    database_url: str, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    callers = {
        "engineer": await new_key(pool, Role.ENGINEER),
        "admin": await new_key(pool, Role.ADMIN),
    }
    async with run_agent(agent_settings(database_url, delivery_worker=False)) as agent:
        callers["token"] = await _stored_token(pool)
        for name, secret in callers.items():
            auth = {"Authorization": f"Bearer {secret}"}
            async with McpToolbox.connect(f"{agent.url}/sink/mcp/", headers=auth) as box:
                posted = await box.call_tool(
                    "SLACK_SEND_MESSAGE", {"channel": "#ops", "markdown_text": name}
                )
                assert posted.ok, name
        listed = await agent.client(callers["engineer"]).get("/api/sink/messages")
        assert callers["token"] not in repr(agent.app.state.services.router)
    assert sorted(m["arguments"]["markdown_text"] for m in listed.json()) == [
        "admin",
        "engineer",
        "token",
    ]
    assert callers["token"] not in listed.text
    assert callers["token"] not in repr(agent.app.state.settings)
    for secret in callers.values():
        assert secret not in caplog.text


async def test_replicas_converge_on_one_token_and_deliver_through_each_others_sink(
    database_url: str, pool: asyncpg.Pool
) -> None:
    """Replica A's worker delivers through replica B's sink with no token configured."""
    pools = [await asyncpg.create_pool(database_url, min_size=1, max_size=1) for _ in range(6)]
    try:
        tokens = await asyncio.gather(*(load_sink_token(p, None) for p in pools))
    finally:
        await asyncio.gather(*(p.close() for p in pools))
    stored = await _stored_token(pool)
    assert all(t.matches(stored) for t in tokens)
    assert await pool.fetchval("SELECT count(*) FROM agent_secrets") == 1

    async with run_agent(agent_settings(database_url, delivery_worker=False)) as sink_replica:
        settings = agent_settings(database_url, sink_url=f"{sink_replica.url}/sink/mcp/")
        async with run_agent(settings):
            alert_id, _ = await open_alert(pool, severity="high")

            async def delivered() -> bool:
                rows = await pool.fetch(
                    "SELECT status FROM deliveries WHERE alert_id = $1", alert_id
                )
                return len(rows) == 2 and all(r["status"] == "delivered" for r in rows)

            await eventually(delivered)
    tools = await pool.fetch("SELECT tool FROM sink_messages ORDER BY id")
    assert sorted(r["tool"] for r in tools) == ["JIRA_CREATE_ISSUE", "SLACK_SEND_MESSAGE"]


async def test_configured_token_replaces_the_shared_one(
    database_url: str, pool: asyncpg.Pool
) -> None:
    configured = "c" * 40
    settings = agent_settings(database_url, sink_token=SecretStr(configured))
    async with run_agent(settings) as agent:
        alert_id, _ = await open_alert(pool, severity="high")

        async def delivered() -> bool:
            rows = await pool.fetch("SELECT status FROM deliveries WHERE alert_id = $1", alert_id)
            return len(rows) == 2 and all(r["status"] == "delivered" for r in rows)

        await eventually(delivered)
        assert (await _post(agent.url, f"Bearer {configured}")).status_code == 200
        assert (await _post(agent.url, f"Bearer {'d' * 40}")).status_code == 401
    assert await pool.fetchval("SELECT count(*) FROM agent_secrets") == 0


def test_a_weak_configured_token_stops_startup_without_echoing_it(database_url: str) -> None:
    weak = "weak-but-secret"
    with pytest.raises(ValueError, match="TRACER_SINK_TOKEN") as refused:
        create_app(agent_settings(database_url, sink_token=SecretStr(weak)))
    assert weak not in str(refused.value)
