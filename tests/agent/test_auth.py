"""API keys: created by the CLI, stored hashed, shown once; each endpoint refuses a missing or
invalid key (401) and a key of the wrong role (403); no key appears in answers or logs."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys

import asyncpg
import pytest

from tests.agent.helpers import agent_settings, new_key, run_agent
from tracer_agent.auth.keys import revoke_key
from tracer_core.models import Role


def test_cli_prints_the_key_once_and_stores_only_its_hash(
    database_url: str, tmp_path: object
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tracer", "keys", "create", "--role", "engineer",
         "--name", "alice", "--database-url", database_url],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "TRACER_HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("trc_")
    assert len(key) > 40
    assert result.stdout.strip() == key  # alone on stdout; the explanation goes to stderr
    assert "alice" in result.stderr
    assert key not in result.stderr

    async def stored() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetch("SELECT * FROM api_keys")
        finally:
            await conn.close()

    import asyncio

    rows = asyncio.run(stored())
    assert len(rows) == 1
    row = dict(rows[0])
    assert (row["role"], row["name"]) == ("engineer", "alice")
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert all(key not in str(value) for value in row.values())


def test_cli_refuses_an_unknown_role(database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tracer", "keys", "create", "--role", "root",
         "--database-url", database_url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "root" in result.stderr


ENDPOINTS = [
    ("GET", "/api/sink/messages", None),
    ("GET", "/api/deliveries", None),
    ("GET", "/api/alerts/1/deliveries", None),
    ("POST", "/api/deliveries/1/retry", None),
    ("GET", "/api/connections", None),
    ("POST", "/api/connections", {"toolkit": "slack", "scope": "user"}),
    ("DELETE", "/api/connections/nope", None),
    ("POST", "/api/chat", {"message": "hello"}),
]


async def test_roles_are_enforced_per_endpoint(
    database_url: str, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await new_key(pool, Role.ADMIN)
    engineer = await new_key(pool, Role.ENGINEER)
    ingest = await new_key(pool, Role.INGEST)
    revoked = await new_key(pool, Role.ADMIN, name="old")
    prefix = revoked.split("_")[1]
    assert await revoke_key(pool, prefix=prefix)
    async with run_agent(agent_settings(database_url, delivery_worker=False)) as agent:
        anonymous = agent.client()
        for method, path, body in ENDPOINTS:
            answer = await anonymous.request(method, path, json=body)
            assert answer.status_code == 401, (method, path, answer.text)
            assert answer.headers["www-authenticate"] == "Bearer"
        for bad in ("nonsense", revoked, engineer[:-3] + "xyz"):
            answer = await agent.client(bad).get("/api/sink/messages")
            assert answer.status_code == 401, answer.text
            assert bad not in answer.text
        for method, path, body in ENDPOINTS:
            answer = await agent.client(ingest).request(method, path, json=body)
            assert answer.status_code == 403, (method, path, answer.text)
        assert (await agent.client(engineer).get("/api/sink/messages")).status_code == 200
        assert (await agent.client(engineer).post("/api/deliveries/1/retry")).status_code == 403
        org = await agent.client(engineer).post(
            "/api/connections", json={"toolkit": "slack", "scope": "org"}
        )
        assert org.status_code == 403
        assert (await agent.client(admin).post("/api/deliveries/1/retry")).status_code == 404
        assert (await agent.client(admin).get("/healthz")).status_code == 200
        assert (await anonymous.get("/metrics")).status_code == 200
    for key in (admin, engineer, ingest, revoked):
        assert key not in caplog.text
