"""`tracer bench` section "console": server time of the console's pages with 10,000 incidents.

A scratch database gets 10,000 incidents with an alert each (100 open, the rest resolved,
spread over a week) and a day of minute rollups for 200 services; the agent app is served in process
through an ASGI transport, so the figures are the app's own time (templates included) with no
network. A signed-in session requests the first incidents page, a filtered page, a deep page,
the rows partial the list polls, and incident pages.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable

import asyncpg
import httpx

from tracer.benchmarks import BenchOptions, BenchRow
from tracer.benchmarks.database import on_scratch_database
from tracer.benchmarks.stats import quantile
from tracer_agent.app import create_app
from tracer_agent.auth.keys import create_key
from tracer_agent.settings import AgentSettings
from tracer_core.models import Role

SECTION = "console"
INCIDENTS = 10_000
SERVICES = 200
TARGET_MS = 200.0

OPEN_INCIDENTS = 100  # one per service at most: PostgreSQL allows one open incident per group
# The scratch database is ours: the grouping trigger is paused while incidents and their alerts
# are written as they would be after a week of grouping.
_SEED = f"""
ALTER TABLE alerts DISABLE TRIGGER alerts_group_incident;
INSERT INTO incidents (id, project, service, status, severity, opened_at, last_alert_at,
                       resolved_at, acknowledged_at, acknowledged_by)
SELECT i, 'shop', 'svc-' || (i % {SERVICES}),
       CASE WHEN i <= {OPEN_INCIDENTS} THEN 'open' ELSE 'resolved' END,
       (ARRAY['low','medium','high','critical'])[1 + (i / 7) % 4],
       now() - make_interval(mins => i), now() - make_interval(mins => i),
       CASE WHEN i <= {OPEN_INCIDENTS} THEN NULL
            ELSE now() - make_interval(mins => i) + interval '9 min' END,
       CASE WHEN i % 3 = 0 THEN now() ELSE NULL END, CASE WHEN i % 3 = 0 THEN 'ada' END
FROM generate_series(1, {INCIDENTS}) AS i;
INSERT INTO alerts (fingerprint, project, service, alert_type, severity, status, title,
                    window_start, window_end, first_seen_at, last_seen_at, resolved_at, details,
                    incident_id)
SELECT 'bench-' || i, 'shop', 'svc-' || (i % {SERVICES}),
       (ARRAY['error_spike','high_latency','traffic_drop','service_down'])[1 + i % 4],
       (ARRAY['low','medium','high','critical'])[1 + (i / 7) % 4],
       CASE WHEN i <= {OPEN_INCIDENTS} THEN 'open' ELSE 'resolved' END,
       'error spike on svc-' || (i % {SERVICES}),
       now() - make_interval(mins => i), now() - make_interval(mins => i) + interval '5 min',
       now() - make_interval(mins => i), now() - make_interval(mins => i) + interval '5 min',
       CASE WHEN i <= {OPEN_INCIDENTS} THEN NULL
            ELSE now() - make_interval(mins => i) + interval '9 min' END,
       jsonb_build_object('samples', jsonb_build_array(
           jsonb_build_object('template', 'payment <n> failed', 'count', 12))),
       i
FROM generate_series(1, {INCIDENTS}) AS i;
SELECT setval('incidents_id_seq', {INCIDENTS});
ALTER TABLE alerts ENABLE TRIGGER alerts_group_incident;
"""
_ROLLUPS = """
INSERT INTO service_rollups (project, service, minute, count, errors, p95_ms, error_rate_mean,
    error_rate_std, count_mean, count_std, p95_mean, p95_std, score, anomalous)
SELECT 'shop', 'svc-' || s, date_trunc('minute', now()) - make_interval(mins => m),
       600, 6 + (m % 7), 80 + (m % 13), 0.01, 0.003, 600, 20, 80, 6, 0.5, m % 97 = 0
FROM generate_series(0, $1 - 1) AS s, generate_series(0, $2 - 1) AS m
"""


async def _timed(client: httpx.AsyncClient, paths: Callable[[int], str], count: int) -> list[float]:
    seconds = []
    for index in range(count):
        started = time.perf_counter()
        answer = await client.get(paths(index))
        seconds.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise RuntimeError(f"{paths(index)} answered {answer.status_code}")
    return seconds


async def _measure(database_url: str, options: BenchOptions) -> list[BenchRow]:
    for noisy in ("httpx", "tracer_agent"):  # one line per request would drown the table
        logging.getLogger(noisy).setLevel(logging.WARNING)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        await pool.execute(_SEED)
        await pool.execute(_ROLLUPS, SERVICES, 360 if options.quick else 1440)
        await pool.execute("ANALYZE")
        key = (await create_key(pool, role=Role.ENGINEER, name="bench")).secret
        ids = [r["id"] for r in await pool.fetch("SELECT id FROM incidents ORDER BY random()")]
    finally:
        await pool.close()
    app = create_app(AgentSettings(database_url=database_url, delivery_worker=False))
    requests = 60 if options.quick else 300
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            form = await client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            await client.post("/login", data={"api_key": key, "csrf_token": token.group(1)})
            await _timed(client, lambda i: "/", 5)  # warm caches and templates
            runs: dict[str, Callable[[], Awaitable[list[float]]]] = {
                "incidents list, first page": lambda: _timed(client, lambda i: "/", requests),
                "incidents list, filtered (service, severity)": lambda: _timed(
                    client, lambda i: f"/?service=svc-{i % SERVICES}&severity=high", requests
                ),
                "incidents list, page 150 of 200": lambda: _timed(
                    client, lambda i: "/?page=150", requests
                ),
                "incidents rows partial (the poll)": lambda: _timed(
                    client, lambda i: "/incidents/rows", requests
                ),
                "incident page": lambda: _timed(
                    client, lambda i: f"/incidents/{ids[i % len(ids)]}", requests
                ),
            }
            rows = []
            for name, run in runs.items():
                p99 = quantile(await run(), 0.99) * 1e3
                rows.append(
                    BenchRow(
                        SECTION,
                        f"{name} p99, {INCIDENTS:,} incidents",
                        p99,
                        "ms",
                        f"< {TARGET_MS:g}",
                        p99 < TARGET_MS,
                    )
                )
            return rows


def run(options: BenchOptions) -> list[BenchRow]:
    return on_scratch_database(options, "tracer_bench_console", lambda url: _measure(url, options))
