"""Connections against the local sink: active at once, owned per user, listed and removed."""

from __future__ import annotations

import asyncpg

from tests.agent.helpers import agent_settings, new_key, run_agent
from tracer_core.models import Role


async def test_local_connections_are_active_and_scoped(
    database_url: str, pool: asyncpg.Pool
) -> None:
    admin = await new_key(pool, Role.ADMIN, name="root")
    alice = await new_key(pool, Role.ENGINEER, name="alice")
    bob = await new_key(pool, Role.ENGINEER, name="bob")
    async with run_agent(agent_settings(database_url, delivery_worker=False)) as agent:
        org = await agent.client(admin).post(
            "/api/connections", json={"toolkit": "jira", "scope": "org"}
        )
        assert org.status_code == 201
        assert org.json()["status"] == "ACTIVE"
        assert org.json()["redirect_url"].startswith(f"{agent.url}/api/connections/callback?")
        page = await agent.client().get(org.json()["redirect_url"])
        assert page.status_code == 200
        assert "Jira is connected" in page.text

        mine = await agent.client(alice).post("/api/connections", json={"toolkit": "gmail"})
        assert mine.status_code == 201
        assert mine.json()["scope"] == "user"
        assert mine.json()["user_id"] == "user:alice"

        seen_by_bob = await agent.client(bob).get("/api/connections")
        assert [c["toolkit"] for c in seen_by_bob.json()] == ["jira"]  # the org's, not alice's
        seen_by_alice = await agent.client(alice).get("/api/connections")
        assert sorted(c["toolkit"] for c in seen_by_alice.json()) == ["gmail", "jira"]

        assert (
            await agent.client(bob).delete(f"/api/connections/{mine.json()['id']}")
        ).status_code == 403
        assert (
            await agent.client(alice).delete(f"/api/connections/{mine.json()['id']}")
        ).status_code == 204
        assert (
            await agent.client(alice).delete(f"/api/connections/{mine.json()['id']}")
        ).status_code == 404
        bad = await agent.client(admin).post(
            "/api/connections", json={"toolkit": "fax", "scope": "org"}
        )
        assert bad.status_code == 422
        webhook = await agent.client(admin).post(
            "/api/connections", json={"toolkit": "webhook", "scope": "org"}
        )
        assert webhook.status_code == 422  # configured in the routing file, not by OAuth
        assert "routing file" in webhook.json()["detail"]
        unknown = await agent.client().get(
            "/api/connections/callback", params={"connection_id": "nope"}
        )
        assert unknown.status_code == 404
