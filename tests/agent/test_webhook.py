"""Plain webhooks against a real HTTP server on loopback: the POST is signed, a 5xx is
retried with the same event id, a 4xx goes to the dead letters, and the receiver sees the
alert delivered once (one accepted event id)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.agent.helpers import (
    agent_settings,
    eventually,
    loopback_socket,
    open_alert,
    run_agent,
    serve_app,
)

SECRET = "whsec-test-0123456789"

ROUTING = """
[[destinations]]
name = "ops-hook"
toolkit = "webhook"
url = "{url}"
secret_env = "TRACER_TEST_HOOK_SECRET"

[[rules]]
send_to = ["ops-hook"]
"""


@dataclass
class Receiver:
    """Answers the first `failures` POSTs with `status`, then accepts (keeping seen ids)."""

    failures: int = 1
    status: int = 503
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        self.received.append((dict(request.headers), body))
        if len(self.received) <= self.failures:
            return JSONResponse({"error": "try later"}, status_code=self.status)
        self.accepted.add(request.headers["x-tracer-event-id"])
        return JSONResponse({"ok": True})


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[str]:
    sock, port = loopback_socket()
    app = Starlette(routes=[Route("/hooks/tracer", receiver.hook, methods=["POST"])])
    async with serve_app(app, sock):
        yield f"http://127.0.0.1:{port}/hooks/tracer"


async def _finished(pool: asyncpg.Pool) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT status, attempts, last_error, result FROM deliveries")
    return dict(row) if row is not None and row["status"] in ("delivered", "dead") else None


async def _deliver_to(
    receiver: Receiver, database_url: str, pool: asyncpg.Pool, tmp_path: Path
) -> dict[str, Any]:
    """Route a high checkout alert to `receiver` and wait until it is delivered or dead."""
    async with receiving(receiver) as url:
        routing = tmp_path / "routing.toml"
        routing.write_text(ROUTING.format(url=url))
        await open_alert(pool, severity="high", service="checkout")
        async with run_agent(agent_settings(database_url, routing_file=routing)):
            return await eventually(lambda: _finished(pool))


async def test_webhook_is_signed_retried_on_5xx_and_delivered_once(
    database_url: str, pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACER_TEST_HOOK_SECRET", SECRET)
    receiver = Receiver(failures=1, status=503)
    done = await _deliver_to(receiver, database_url, pool, tmp_path)
    assert done["status"] == "delivered"
    assert done["attempts"] == 2
    assert len(receiver.received) == 2
    event_ids = {headers["x-tracer-event-id"] for headers, _ in receiver.received}
    assert len(event_ids) == 1, "a retry carries the same event id"
    assert receiver.accepted == event_ids
    for headers, body in receiver.received:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-tracer-signature"], expected)
    payload = json.loads(receiver.received[-1][1])
    assert payload["event"] == "opened"
    assert payload["alert"]["service"] == "checkout"
    assert payload["incident"]["alert_id"] == payload["alert"]["alert_id"]
    assert payload["summary"]["title"]
    assert done["result"]["http_status"] == 200


async def test_webhook_4xx_is_a_dead_letter_without_retries(
    database_url: str, pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACER_TEST_HOOK_SECRET", SECRET)
    receiver = Receiver(failures=100, status=410)
    done = await _deliver_to(receiver, database_url, pool, tmp_path)
    assert done["status"] == "dead"
    assert "HTTP 410" in done["last_error"]
    assert len(receiver.received) == 1
