"""Two agent replicas (real processes) share the outbox: every delivery is made exactly once,
both replicas take part, and when one is killed mid-run the other finishes its work."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import asyncpg
import httpx

from tests.agent.helpers import open_alert
from tests.support import eventually, free_port, wait_until

ROUTING = """
[[destinations]]
name = "chat"
toolkit = "slack"
channel = "#replicas"
rate_per_minute = 60000
burst = 1000

[[destinations]]
name = "tickets"
toolkit = "jira"
project_key = "REP"
rate_per_minute = 60000
burst = 1000

[[rules]]
send_to = ["chat", "tickets"]
"""


def _agent(database_url: str, routing: Path, home: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TRACER_HOME": str(home),
        "TRACER_ROUTING_FILE": str(routing),
        "TRACER_DELIVERY_POLL_SECONDS": "0.2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tracer", "agent", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    return process, port


def _wait_ready(process: subprocess.Popen[bytes], port: int) -> None:
    def healthy() -> bool:
        assert process.poll() is None, "agent exited"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, timeout=60)


async def _delivered(pool: asyncpg.Pool, count: int) -> int | None:
    done = await pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'delivered'")
    return done if done == count else None


async def test_two_replicas_deliver_each_message_once_even_when_one_dies(
    database_url: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    routing = tmp_path / "routing.toml"
    routing.write_text(ROUTING)
    started = [_agent(database_url, routing, tmp_path) for _ in range(2)]
    agents = [process for process, _ in started]
    try:
        for process, port in started:
            _wait_ready(process, port)
        alerts = 40
        await asyncio.gather(
            *(open_alert(pool, service=f"svc-{i}", severity="medium") for i in range(alerts))
        )

        async def both_at_work() -> bool:
            workers = await pool.fetch("SELECT DISTINCT worker FROM delivery_attempts")
            pids = {agent.pid for agent in agents}
            return {p for p in pids if any(f"-{p}-" in r["worker"] for r in workers)} == pids

        await eventually(both_at_work)
        agents[0].send_signal(signal.SIGKILL)
        agents[0].wait(timeout=10)
        # Whatever the dead replica held comes back once its lease runs out.
        await pool.execute(
            "UPDATE deliveries SET next_attempt_at = now() WHERE status = 'in_progress' "
            "AND lease_owner LIKE $1",
            f"%-{agents[0].pid}-%",
        )
        await eventually(lambda: _delivered(pool, 2 * alerts), within=60)
    finally:
        for agent in agents:
            if agent.poll() is None:
                agent.terminate()
                agent.wait(timeout=20)

    texts = []
    for row in await pool.fetch("SELECT arguments FROM sink_messages"):
        arguments = row["arguments"]
        texts.append(str(arguments.get("text", "")) + " ".join(arguments.get("labels", [])))
    markers = Counter(
        m
        for text in texts
        for m in re.findall(r"(?:tracer-|Tracer ref )(d\d+-(?:post|create))", text)
    )
    assert len(markers) == 2 * alerts
    assert set(markers.values()) == {1}  # no message twice
    workers = {r["worker"] for r in await pool.fetch("SELECT worker FROM delivery_attempts")}
    assert len(workers) >= 2
