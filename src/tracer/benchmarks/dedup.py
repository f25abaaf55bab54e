"""`tracer bench` section "dedup": alert decisions per second with 8 concurrent writers on
one PostgreSQL, and the latency of one decision (one statement, one commit).

Writers are connections in separate OS processes, each process with its own
`PostgresAlertStore` as a processor replica has. They share 1,000 incidents that are already
open (a storm under way) and report them with event time moving forward, so they contend
like replicas watching the same traffic: most reports merge, a few escalate, resolve or
reopen. Each layout runs in its own scratch database, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time
from array import array
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection

import asyncpg
import uvloop

from tracer.benchmarks import BenchOptions, BenchRow
from tracer.benchmarks.database import on_server
from tracer.benchmarks.stats import quantile
from tracer.scratch import scratch_database
from tracer_core.db import create_pool
from tracer_core.models import AlertType, Severity
from tracer_processor.alerts.reports import AlertCandidate, Recovery
from tracer_processor.alerts.store import PostgresAlertStore

# (processes, concurrent writers per process): replicas running the alert writer's default
# four writer tasks each, then one connection per process.
LAYOUTS = [(2, 4), (8, 1)]
FINGERPRINTS = 1000
EVENT_BASE = datetime(2026, 1, 1, tzinfo=UTC)
SEVERITIES = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
SEVERITY_OF = [random.Random(i).choices(range(4), [60, 25, 10, 5])[0] for i in range(FINGERPRINTS)]
ESCALATION_SHARE = 0.005
RECOVERY_SHARE = 0.02


@dataclass(frozen=True, slots=True)
class _WriterJob:
    database_url: str
    index: int
    writers: int  # concurrent writers (connections) in this process
    seed: int
    seconds: float


async def _write(
    store: PostgresAlertStore, rng: random.Random, started: float, deadline: float
) -> array[float]:
    latencies: array[float] = array("d")
    while (now := time.perf_counter()) < deadline:
        incident = rng.randrange(FINGERPRINTS)
        service = f"svc-{incident}"
        # Event time: one 10 s bucket per second of run, the same for every writer (replicas
        # see the same traffic). Most reports repeat what an open alert already says.
        bucket = EVENT_BASE + timedelta(seconds=10 * int(now - started))
        before = time.perf_counter()
        if rng.random() < RECOVERY_SHARE:
            end = bucket + timedelta(seconds=20)
            await store.recover(Recovery("bench", service, AlertType.ERROR_SPIKE, end))
        else:
            # Each incident has its own size; now and then a replica sees it one step worse.
            level = SEVERITY_OF[incident] + (rng.random() < ESCALATION_SHARE)
            severity = SEVERITIES[min(level, len(SEVERITIES) - 1)]
            await store.report(
                AlertCandidate(
                    project="bench",
                    service=service,
                    alert_type=AlertType.ERROR_SPIKE,
                    severity=severity,
                    title=f"errors on {service}",
                    window_start=bucket,
                    window_end=bucket + timedelta(seconds=10),
                    details={"observed": rng.random(), "baseline_mean": 0.01, "z": 6.5},
                )
            )
        latencies.append(time.perf_counter() - before)
    return latencies


async def _process_writers(job: _WriterJob, control: Connection) -> tuple[float, array[float]]:
    pool = await create_pool(
        job.database_url, min_size=job.writers, max_size=job.writers, application_name="bench"
    )
    store = PostgresAlertStore(pool, processor_id=f"bench-replica-{job.index}")
    try:
        control.send("ready")
        control.recv()  # "go": every writer starts together
        started = time.perf_counter()
        deadline = started + job.seconds
        rngs = [random.Random(job.seed * 1000 + job.index * 16 + w) for w in range(job.writers)]
        parts = await asyncio.gather(*(_write(store, rng, started, deadline) for rng in rngs))
        latencies: array[float] = array("d")
        for part in parts:
            latencies.extend(part)
        return time.perf_counter() - started, latencies
    finally:
        await store.close()
        await pool.close()


def _writer_process(job: _WriterJob, control: Connection) -> None:
    elapsed, latencies = uvloop.run(_process_writers(job, control))
    control.send((len(latencies), elapsed, latencies.tobytes()))
    control.close()


def _run_writers(
    database_url: str, layout: tuple[int, int], seed: int, seconds: float
) -> tuple[int, float, list[float]]:
    processes_count, per_process = layout
    context = multiprocessing.get_context("spawn")
    pipes: list[Connection] = []
    processes = []
    for index in range(processes_count):
        parent, child = context.Pipe()
        job = _WriterJob(database_url, index, per_process, seed, seconds)
        process = context.Process(target=_writer_process, args=(job, child), daemon=True)
        process.start()
        child.close()
        pipes.append(parent)
        processes.append(process)
    try:
        for pipe in pipes:
            if not pipe.poll(60) or pipe.recv() != "ready":
                raise RuntimeError("a benchmark writer did not start")
        for pipe in pipes:
            pipe.send("go")
        total, longest = 0, 0.0
        latencies: list[float] = []
        for pipe in pipes:
            if not pipe.poll(seconds + 60):
                raise RuntimeError("a benchmark writer did not finish")
            count, elapsed, raw = pipe.recv()
            total += count
            longest = max(longest, elapsed)
            latencies.extend(array("d", raw))
        return total, longest, latencies
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


async def _open_incidents(pool: asyncpg.Pool) -> None:
    """Open every incident before measuring, as in a storm already under way."""
    store = PostgresAlertStore(pool, processor_id="bench-warmup")

    async def open_some(first: int) -> None:
        for index in range(first, FINGERPRINTS, 4):
            await store.report(
                AlertCandidate(
                    project="bench",
                    service=f"svc-{index}",
                    alert_type=AlertType.ERROR_SPIKE,
                    severity=SEVERITIES[SEVERITY_OF[index]],
                    title=f"errors on svc-{index}",
                    window_start=EVENT_BASE,
                    window_end=EVENT_BASE + timedelta(seconds=10),
                )
            )

    await asyncio.gather(*(open_some(first) for first in range(4)))
    await store.close()


async def _measure_layout(
    server_url: str, layout: tuple[int, int], options: BenchOptions
) -> list[BenchRow]:
    seconds = 3.0 if options.quick else 10.0
    processes, per_process = layout
    async with scratch_database(server_url, "tracer_bench_dedup") as url:
        pool = await create_pool(url, min_size=1, max_size=4)
        try:
            await _open_incidents(pool)
            events_before = await pool.fetchval("SELECT count(*) FROM alert_events")
            total, elapsed, latencies = await asyncio.to_thread(
                _run_writers, url, layout, options.seed, seconds
            )
            events = await pool.fetchval("SELECT count(*) FROM alert_events") - events_before
            duplicates = await pool.fetchval(
                "SELECT count(*) FROM (SELECT fingerprint FROM alerts WHERE status = 'open' "
                "GROUP BY fingerprint HAVING count(*) > 1) AS twice"
            )
        finally:
            await pool.close()
    rate = total / elapsed if elapsed > 0 else 0.0
    p50 = quantile(latencies, 0.50) * 1000
    p99 = quantile(latencies, 0.99) * 1000
    where = f"{processes * per_process} writers in {processes} process(es)"
    return [
        BenchRow("dedup", f"decisions/s, {where}", rate, "1/s", ">= 5000", rate >= 5000),
        BenchRow("dedup", f"decision latency p50, {where}", p50, "ms"),
        BenchRow("dedup", f"decision latency p99, {where}", p99, "ms", "< 10", p99 < 10),
        BenchRow(
            "dedup", f"outbox events per 100 decisions, {where}", 100 * events / max(total, 1), "%"
        ),
        BenchRow(
            "dedup",
            f"fingerprints with two open alerts, {where}",
            float(duplicates),
            "",
            "== 0",
            duplicates == 0,
        ),
    ]


async def _measure(server_url: str, options: BenchOptions) -> list[BenchRow]:
    rows: list[BenchRow] = []
    for layout in LAYOUTS:
        rows.extend(await _measure_layout(server_url, layout, options))
    return rows


def run(options: BenchOptions) -> list[BenchRow]:
    return on_server(options, lambda url: _measure(url, options))
