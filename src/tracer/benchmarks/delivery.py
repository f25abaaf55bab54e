"""`tracer bench` section "delivery": from an alert committed to PostgreSQL to its message in
the local sink, with two agent replicas (separate processes) delivering at once.

Alerts and their outbox events are written the way the processors' alert store writes them
(one transaction each). Both times come from the database clock: the event's commit
transaction and the sink's insert, so no process clock enters the figures. Summaries are the
template (no LLM). The destinations' rate limits are raised for the measurement: with the
real Slack limit (about one message per second per channel) messages queue by design.

- latency: alerts arrive one at a time at a steady pace; p50/p99 of commit -> sink.
- throughput: a burst of alerts is committed at once; deliveries per second until the last
  one lands, and a check that every delivery reached the sink exactly once.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from tracer.benchmarks import BenchOptions, BenchRow
from tracer.benchmarks.database import on_scratch_database
from tracer.benchmarks.stats import quantile
from tracer.commands.demo import spawn_quiet
from tracer.commands.up import Child, stop_all, wait_healthy
from tracer_core.db import create_pool

SECTION = "delivery"
REPLICAS = 2
_ROUTING = """
[[destinations]]
name = "bench-slack"
toolkit = "slack"
channel = "#bench"
rate_per_minute = 60000
burst = 1000

[[destinations]]
name = "bench-jira"
toolkit = "jira"
project_key = "BENCH"
rate_per_minute = 60000
burst = 1000

[[rules]]
name = "medium: Slack only"
match = { severity = ["medium"] }
send_to = ["bench-slack"]

[[rules]]
name = "high: Jira and Slack"
match = { severity = ["high"] }
send_to = ["bench-jira", "bench-slack"]
"""


async def _commit_alert(pool: asyncpg.Pool, index: int, severity: str) -> None:
    end = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        alert_id = await conn.fetchval(
            """
            INSERT INTO alerts (fingerprint, project, service, alert_type, severity, title,
                                window_start, window_end, details)
            VALUES ($1, 'bench', $2, 'error_spike', $3, $4, $5, $6, $7) RETURNING id
            """,
            f"bench/svc-{index}/error_spike",
            f"svc-{index}",
            severity,
            f"error spike on svc-{index}",
            end - timedelta(seconds=10),
            end,
            {"observed": 0.3, "baseline_mean": 0.01, "z_score": 12.0},
        )
        await conn.execute(
            "INSERT INTO alert_events (alert_id, kind, severity) VALUES ($1, 'opened', $2)",
            alert_id,
            severity,
        )


async def _landed(pool: asyncpg.Pool) -> list[float]:
    """Seconds from each event's commit to its message in the sink (database clock)."""
    rows = await pool.fetch(
        """
        SELECT extract(epoch FROM s.created_at - e.created_at) AS seconds
        FROM deliveries d
        JOIN alert_events e ON e.id = d.event_id
        JOIN sink_messages s ON s.toolkit = d.toolkit
             AND s.external_id = coalesce(d.result ->> 'ts', d.result ->> 'issue_key')
        WHERE d.status = 'delivered'
        """
    )
    return [float(r["seconds"]) for r in rows]


async def _wait_delivered(pool: asyncpg.Pool, expected: int, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        done = await pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'delivered'")
        if done >= expected:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {done} of {expected} deliveries landed within {within} s")
        await asyncio.sleep(0.05)


async def _latency(pool: asyncpg.Pool, count: int, per_second: float) -> list[BenchRow]:
    for index in range(count):
        await _commit_alert(pool, index, "medium")
        await asyncio.sleep(1.0 / per_second)
    await _wait_delivered(pool, count, within=60)
    seconds = await _landed(pool)
    p99 = quantile(seconds, 0.99)
    return [
        BenchRow(SECTION, f"commit -> sink p50 ({count} alerts, {per_second:g}/s)",
                 statistics.median(seconds) * 1000, "ms"),
        BenchRow(SECTION, "commit -> sink p99", p99 * 1000, "ms", "< 1000", p99 < 1.0),
    ]  # fmt: skip


async def _throughput(pool: asyncpg.Pool, alerts: int) -> list[BenchRow]:
    before = await pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'delivered'")
    sink_before = await pool.fetchval("SELECT count(*) FROM sink_messages")
    started = time.perf_counter()
    await asyncio.gather(*(_commit_alert(pool, 100_000 + i, "high") for i in range(alerts)))
    expected = before + 2 * alerts
    await _wait_delivered(pool, expected, within=600)
    elapsed = time.perf_counter() - started
    sent = await pool.fetchval("SELECT count(*) FROM sink_messages") - sink_before
    duplicates = sent - 2 * alerts
    return [
        BenchRow(SECTION, f"deliveries/s, {REPLICAS} agent replicas ({2 * alerts} deliveries)",
                 2 * alerts / elapsed, "/s"),
        BenchRow(SECTION, "messages in the sink beyond one per delivery", float(duplicates),
                 "", "0", duplicates == 0),
    ]  # fmt: skip


async def _measure(url: str, options: BenchOptions, logs: Path) -> list[BenchRow]:
    routing = logs / "routing.toml"
    routing.write_text(_ROUTING, encoding="utf-8")
    agents: list[Child] = []
    try:
        for index in range(REPLICAS):
            extra = {"TRACER_ROUTING_FILE": str(routing), "TRACER_DELIVERY_CONCURRENCY": "16"}
            agents.append(spawn_quiet("agent", f"bench-agent-{index + 1}", url, logs, extra))
        await asyncio.to_thread(wait_healthy, agents)
        pool = await create_pool(url, min_size=1, max_size=20, application_name="tracer-bench")
        try:
            await _commit_alert(pool, -1, "medium")  # opens the agents' MCP sessions
            await _wait_delivered(pool, 1, within=60)
            await pool.execute("TRUNCATE sink_messages, deliveries, alert_events, alerts CASCADE")
            rows = await _latency(pool, 50 if options.quick else 300, 20.0)
            rows += await _throughput(pool, 200 if options.quick else 1500)
            return rows
        finally:
            await pool.close()
    finally:
        await asyncio.to_thread(stop_all, agents)


def run(options: BenchOptions) -> list[BenchRow]:
    async def measure(url: str) -> list[BenchRow]:
        with tempfile.TemporaryDirectory(prefix="tracer-bench-") as logs:
            return await _measure(url, options, Path(logs))

    return on_scratch_database(options, "tracer_bench_delivery", measure)
