"""Helpers for the agent's tests: an agent served on a loopback port inside the test's event
loop, alerts written the way the processor's alert store writes them, and async polling."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import httpx
import httpx2
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from tests.support import eventually as eventually  # re-exported for the agent tests
from tracer_agent.app import create_app
from tracer_agent.auth.keys import create_key
from tracer_agent.settings import AgentSettings
from tracer_core.clock import Clock
from tracer_core.models import Role, alert_fingerprint

T = TypeVar("T")


@dataclass
class RunningAgent:
    url: str
    app: FastAPI
    settings: AgentSettings

    def client(self, key: str | None = None) -> httpx.AsyncClient:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10.0)


def agent_settings(database_url: str, **overrides: Any) -> AgentSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "delivery_poll_seconds": 0.5,
        "delivery_backoff_base_seconds": 0.05,
        "delivery_backoff_max_seconds": 0.2,
        "delivery_max_attempts": 3,
        "tool_call_timeout_seconds": 5.0,
        "delivery_lease_seconds": 30.0,
        **overrides,
    }
    return AgentSettings(**values)


def loopback_socket() -> tuple[socket.socket, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock, int(sock.getsockname()[1])


@asynccontextmanager
async def serve_app(app: ASGIApp, sock: socket.socket) -> AsyncIterator[None]:
    """Serve `app` on the bound socket in this event loop until the block ends."""
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="on", log_level="warning", loop="asyncio", access_log=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def started() -> bool:
        if task.done():
            task.result()
        return server.started

    try:
        await eventually(started, within=30)
        yield
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)
        sock.close()


@asynccontextmanager
async def run_agent(
    settings: AgentSettings,
    *,
    llm_http_client: httpx2.AsyncClient | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[RunningAgent]:
    """Serve the agent app on 127.0.0.1 (a free port) in this event loop."""
    sock, port = loopback_socket()
    settings = settings.model_copy(update={"host": "127.0.0.1", "port": port})
    app = create_app(settings, llm_http_client=llm_http_client, clock=clock)
    async with serve_app(app, sock):
        yield RunningAgent(url=f"http://127.0.0.1:{port}", app=app, settings=settings)


async def new_key(pool: asyncpg.Pool, role: Role, name: str | None = None) -> str:
    return (await create_key(pool, role=role, name=name)).secret


async def open_alert(
    pool: asyncpg.Pool,
    *,
    service: str = "checkout",
    alert_type: str = "error_spike",
    severity: str = "high",
    project: str = "default",
    details: dict[str, Any] | None = None,
) -> tuple[int, int]:
    """An open alert and its `opened` outbox event, in one transaction; (alert id, event id)."""
    end = datetime.now(UTC).replace(microsecond=0)
    async with pool.acquire() as conn, conn.transaction():
        alert_id = await conn.fetchval(
            """
            INSERT INTO alerts (fingerprint, project, service, alert_type, severity, title,
                                window_start, window_end, details)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id
            """,
            alert_fingerprint(project, service, alert_type),
            project,
            service,
            alert_type,
            severity,
            f"{alert_type.replace('_', ' ')} on {service}",
            end - timedelta(seconds=10),
            end,
            details or {"observed": 0.42, "baseline_mean": 0.01, "z_score": 9.5},
        )
        event_id = await conn.fetchval(
            "INSERT INTO alert_events (alert_id, kind, severity) VALUES ($1, 'opened', $2) "
            "RETURNING id",
            alert_id,
            severity,
        )
    return int(alert_id), int(event_id)


async def add_event(pool: asyncpg.Pool, alert_id: int, kind: str, severity: str) -> int:
    """An escalation, resolution or reopening, with the alert row updated alongside."""
    async with pool.acquire() as conn, conn.transaction():
        if kind == "resolved":
            await conn.execute(
                "UPDATE alerts SET status = 'resolved', resolved_at = now() WHERE id = $1",
                alert_id,
            )
        elif kind == "reopened":
            await conn.execute(
                "UPDATE alerts SET status = 'open', resolved_at = NULL, severity = $2, "
                "reopen_count = reopen_count + 1 WHERE id = $1",
                alert_id,
                severity,
            )
        else:
            await conn.execute(
                "UPDATE alerts SET severity = $2, occurrences = occurrences + 1, "
                "last_seen_at = now() WHERE id = $1",
                alert_id,
                severity,
            )
        event_id = await conn.fetchval(
            "INSERT INTO alert_events (alert_id, kind, severity) VALUES ($1, $2, $3) RETURNING id",
            alert_id,
            kind,
            severity,
        )
    return int(event_id)


async def sink_messages(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """What the local sink received, oldest first."""
    rows = await pool.fetch(
        "SELECT tool, toolkit, thread_ref, arguments FROM sink_messages ORDER BY id"
    )
    return [dict(row) for row in rows]


async def settled(pool: asyncpg.Pool, count: int) -> bool:
    """Every event expanded and `count` deliveries, all delivered."""
    pending = await pool.fetchval("SELECT count(*) FROM alert_events WHERE dispatched_at IS NULL")
    rows = await pool.fetch("SELECT status FROM deliveries")
    return pending == 0 and len(rows) == count and all(r["status"] == "delivered" for r in rows)
