"""`tracer bench` section "processor": ingest throughput, request and detection latency, and
memory per service.

* HTTP: one `tracer processor` process (its own scratch database) on a loopback port; client
  processes send JSON batches of 1,000 current records (~200 bytes each) over keep-alive
  connections for a fixed time. Throughput counts records the server accepted.
* In process: the same bodies through decoding, bucketing and detection, without HTTP.
* Detection: 10,000 services closing buckets in lock step (a mass incident included); the
  time from a bucket closing to its alert decisions handed to the writer, and the state
  kept per service.
"""

from __future__ import annotations

import asyncio
import http.client
import multiprocessing
import os
import re
import tempfile
import threading
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import numpy as np
from prometheus_client import CollectorRegistry

from tracer.benchmarks import BenchOptions, BenchRow
from tracer.benchmarks.database import on_scratch_database
from tracer.benchmarks.stats import quantile
from tracer.commands.demo import spawn_quiet
from tracer.commands.up import stop_all, wait_healthy
from tracer.traffic.synthetic import (
    TrafficShape,
    as_otlp_export,
    body_templates,
    bucket_batch,
    stamp,
)
from tracer_core.clock import ManualClock
from tracer_processor.alerts.reports import AlertCandidate, Recovery
from tracer_processor.buckets.aggregator import BucketConfig
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.ingest.batch import IngestLimits
from tracer_processor.ingest.otlp import decode_export
from tracer_processor.ingest.records import parse_logs
from tracer_processor.metrics import ProcessorMetrics
from tracer_processor.pipeline import Pipeline

SECTION = "processor"
BATCH = 1000
BATCHES_PER_EVENT_SECOND = 200  # 200,000 records per second of event time


class _Discard:
    def __init__(self) -> None:
        self.items = 0

    def submit(self, item: AlertCandidate | Recovery) -> None:
        self.items += 1


def _pipeline(clock: ManualClock, sink: _Discard) -> Pipeline:
    config = DetectorConfig()
    return Pipeline(
        buckets=BucketConfig(skip_gap_after=config.settle_buckets),
        detector=config,
        sink=sink,
        clock=clock,
        metrics=ProcessorMetrics(CollectorRegistry()),
        max_services=100_000,
    )


# -- in process -------------------------------------------------------------------------------


def _in_process(options: BenchOptions) -> list[BenchRow]:
    templates = body_templates(TrafficShape(seed=options.seed), 40)
    batches = 600 if options.quick else 4000
    second = int(time.time()) - 3600
    clock = ManualClock(datetime.fromtimestamp(second, UTC))
    pipeline = _pipeline(clock, _Discard())
    limits = IngestLimits()
    busy = cpu = 0.0
    records = 0
    for index in range(batches):
        event_second = second + index // BATCHES_PER_EVENT_SECOND
        body = stamp(templates[index % len(templates)], event_second)
        clock.set(datetime.fromtimestamp(event_second + 1, UTC))
        started, cpu_started = time.perf_counter(), time.process_time()
        batch = parse_logs(body, ndjson=False, now=event_second + 1.0, limits=limits)
        records += pipeline.ingest(batch).accepted
        busy += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
    rate, cpu_rate = records / busy, records / cpu
    otlp_cpu_rate = _in_process_otlp(options, templates)
    return [
        BenchRow(SECTION, "in-process parse+detect throughput (wall clock)", rate, "logs/s",
                 ">= 2000000", rate >= 2_000_000),
        BenchRow(SECTION, "in-process parse+detect per CPU-second", cpu_rate, "logs/s",
                 ">= 2000000", cpu_rate >= 2_000_000),
        BenchRow(SECTION, "in-process time per 1,000-record batch", busy / batches * 1e3, "ms"),
        BenchRow(SECTION, "in-process parse+detect per CPU-second, same records as OTLP/protobuf",
                 otlp_cpu_rate, "logs/s", ">= 2000000", otlp_cpu_rate >= 2_000_000),
    ]  # fmt: skip


def _in_process_otlp(options: BenchOptions, templates: list[bytes]) -> float:
    """The same records and event-time pace as `_in_process`, sent as OTLP/protobuf exports
    (built before the clock starts; each event second has its own)."""
    batches = 600 if options.quick else 4000
    second = int(time.time()) - 3600
    clock = ManualClock(datetime.fromtimestamp(second, UTC))
    pipeline = _pipeline(clock, _Discard())
    limits = IngestLimits()
    seconds = -(-batches // BATCHES_PER_EVENT_SECOND)
    exports = {
        at: [as_otlp_export(stamp(t, at)) for t in templates]
        for at in range(second, second + seconds)
    }
    cpu = 0.0
    records = 0
    for index in range(batches):
        event_second = second + index // BATCHES_PER_EVENT_SECOND
        body = exports[event_second][index % len(templates)]
        clock.set(datetime.fromtimestamp(event_second + 1, UTC))
        cpu_started = time.process_time()
        batch = decode_export(body, json=False, now=event_second + 1.0, limits=limits)
        records += pipeline.ingest(batch, source="otlp").accepted
        cpu += time.process_time() - cpu_started
    return records / cpu


# -- detection at 10,000 services ---------------------------------------------------------------


def _detection(options: BenchOptions) -> list[BenchRow]:
    services, per_service = 10_000, 25
    buckets = 45 if options.quick else 80
    rng = np.random.default_rng(options.seed)
    start = float(int(time.time()) // 10 * 10 - 86_400)
    clock = ManualClock(datetime.fromtimestamp(start, UTC))
    sink = _Discard()
    pipeline = _pipeline(clock, sink)
    pipeline.detection_seconds = []
    incident = np.full(services, 0.01)
    for bucket in range(buckets):
        rates = incident
        if bucket in (buckets - 8, buckets - 7, buckets - 6):  # 1 % of services start failing
            rates = incident.copy()
            rates[::100] = 0.5
        at = start + bucket * 10
        batch = bucket_batch(rng, services=services, start=at, seconds=10,
                             per_service=per_service, error_rates=rates)  # fmt: skip
        clock.set(datetime.fromtimestamp(at + 10, UTC))
        pipeline.ingest(batch)
        pipeline.tick()
    wall = [elapsed for elapsed, _ in pipeline.detection_seconds]
    cpu = [spent for _, spent in pipeline.detection_seconds]
    p99, cpu_p99 = quantile(wall, 0.99) * 1e3, quantile(cpu, 0.99) * 1e3
    return [
        BenchRow(SECTION, f"bucket close -> decision p99, {len(wall)} closes of 10,000 services",
                 p99, "ms", "< 10", p99 < 10),
        BenchRow(SECTION, "bucket close -> decision p50", quantile(wall, 0.50) * 1e3, "ms"),
        BenchRow(SECTION, "bucket close -> decision p99 in CPU time", cpu_p99, "ms", "< 10",
                 cpu_p99 < 10),
        BenchRow(SECTION, "alert decisions in that run", float(sink.items), "items"),
        *_memory(options),
    ]  # fmt: skip


def _memory(options: BenchOptions) -> list[BenchRow]:
    """State per service at 10,000 services, and its growth when 3x more logs arrive."""
    services = 10_000
    rng = np.random.default_rng(options.seed + 1)
    start = float(int(time.time()) // 10 * 10 - 86_400)
    clock = ManualClock(datetime.fromtimestamp(start, UTC))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        pipeline = _pipeline(clock, _Discard())
        sizes = []
        for bucket in range(15):
            at = start + bucket * 10
            batch = bucket_batch(rng, services=services, start=at, seconds=10, per_service=20)
            clock.set(datetime.fromtimestamp(at + 10, UTC))
            pipeline.ingest(batch)
            pipeline.tick()
            del batch
            if bucket in (4, 14):
                sizes.append(tracemalloc.get_traced_memory()[0] - before)
    finally:
        tracemalloc.stop()
    per_service = sizes[0] / services
    growth = (sizes[1] - sizes[0]) / services
    return [
        BenchRow(SECTION, "memory per service (10,000 services)", per_service / 1024, "KiB"),
        BenchRow(SECTION, "state growth per service with 3x the logs", growth, "bytes", "~ 0",
                 abs(growth) < 0.05 * per_service),
    ]  # fmt: skip


# -- over HTTP ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ClientJob:
    port: int
    connections: int
    seconds: float
    warmup: float
    seed: int


def _client(job: _ClientJob, out: Connection) -> None:
    """One load-generating process: `connections` keep-alive connections in threads."""
    templates = body_templates(TrafficShape(seed=job.seed), 16)
    stamped: dict[int, list[bytes]] = {}
    lock = threading.Lock()
    results: list[tuple[float, float, int]] = []  # (sent at, latency, accepted)
    begin = time.monotonic()

    def bodies(second: int) -> list[bytes]:
        with lock:
            if second not in stamped:
                stamped.clear()
                stamped[second] = [stamp(t, second) for t in templates]
            return stamped[second]

    def connection(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", job.port, timeout=30)
        sent = index
        while (now := time.monotonic()) - begin < job.warmup + job.seconds:
            body = bodies(int(time.time()))[sent % len(templates)]
            # The templates repeat: a distinct key per request keeps a clustered receiver
            # from taking a repeat for a retry of the same request.
            headers = {"content-type": "application/json",
                       "idempotency-key": f"bench-{os.getpid()}-{index}-{sent}"}  # fmt: skip
            sent += job.connections
            started = time.perf_counter()
            conn.request("POST", "/api/logs", body, headers)
            response = conn.getresponse()
            answer = response.read()
            latency = time.perf_counter() - started
            match = re.search(rb'"accepted":(\d+)', answer)
            accepted = int(match.group(1)) if response.status == 202 and match else 0
            with lock:
                results.append((now - begin, latency, accepted))
        conn.close()

    threads = [threading.Thread(target=connection, args=(i,)) for i in range(job.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    measured = [(latency, accepted) for at, latency, accepted in results if at >= job.warmup]
    out.send(measured)
    out.close()


def _run_clients(
    port: int, processes: int, connections: int, seconds: float, seed: int
) -> tuple[list[float], int, float]:
    context = multiprocessing.get_context("spawn")
    warmup = 1.0
    pipes, workers = [], []
    for index in range(processes):
        receive, send = context.Pipe(duplex=False)
        job = _ClientJob(port, connections, seconds, warmup, seed + index)
        worker = context.Process(target=_client, args=(job, send), daemon=True)
        worker.start()
        pipes.append(receive)
        workers.append(worker)
    latencies: list[float] = []
    accepted = 0
    for receive in pipes:
        for latency, count in receive.recv():
            latencies.append(latency)
            accepted += count
    for worker in workers:
        worker.join(timeout=30)
    return latencies, accepted, seconds


def _http(options: BenchOptions) -> list[BenchRow]:
    return on_scratch_database(
        options, "tracer_bench_processor", lambda url: asyncio.to_thread(_http_load, url, options)
    )


def _http_load(database_url: str, options: BenchOptions) -> list[BenchRow]:
    with tempfile.TemporaryDirectory(prefix="tracer-bench-") as home:
        extra = {"TRACER_HOME": home, "TRACER_PROCESSOR_ID": "bench"}
        server = spawn_quiet("processor", "processor", database_url, Path(home), extra)
        try:
            wait_healthy([server])
            return _measure_http(int(server.url.rsplit(":", 1)[1]), options)
        finally:
            stop_all([server])


def _measure_http(port: int, options: BenchOptions) -> list[BenchRow]:
    seconds = 4.0 if options.quick else 20.0
    processes = 2  # one connection each: the server is never idle, the clients never share a GIL
    latencies, accepted, _ = _run_clients(port, processes, 1, seconds, options.seed)
    rate = accepted / seconds
    single, _, _ = _run_clients(port, 1, 1, 2.0 if options.quick else 5.0, options.seed + 50)
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    served = _sample(metrics, 'tracer_processor_records_accepted_total{source="json"}')
    server_p99 = _histogram_bound(metrics, "tracer_processor_ingest_request_seconds", 0.99)
    p99_loaded = quantile(latencies, 0.99) * 1e3
    p99_single = quantile(single, 0.99) * 1e3
    return [
        BenchRow(SECTION, f"HTTP ingest throughput ({processes} connections)", rate, "logs/s",
                 ">= 250000", rate >= 250_000),
        BenchRow(SECTION, "HTTP request p50 under that load", quantile(latencies, 0.50) * 1e3,
                 "ms"),
        BenchRow(SECTION, "HTTP request p99 under that load", p99_loaded, "ms", "< 10",
                 p99_loaded < 10),
        BenchRow(SECTION, "HTTP request p50 (one connection)", quantile(single, 0.50) * 1e3, "ms"),
        BenchRow(SECTION, "HTTP request p99 (one connection)", p99_single, "ms", "< 10",
                 p99_single < 10),
        BenchRow(SECTION, "server time per request p99 (histogram bound)", server_p99 * 1e3,
                 "ms"),
        BenchRow(SECTION, "records the server counted", served, "logs"),
    ]  # fmt: skip


def _sample(metrics: str, name: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _histogram_bound(metrics: str, name: str, q: float) -> float:
    """The upper bound of the Prometheus histogram bucket holding the q-quantile."""
    buckets: list[tuple[float, float]] = []
    for line in metrics.splitlines():
        match = re.match(rf'{name}_bucket{{le="([^"]+)"}} (\S+)', line)
        if match:
            buckets.append((float(match.group(1)), float(match.group(2))))
    total = buckets[-1][1] if buckets else 0.0
    for bound, cumulative in buckets:
        if total and cumulative >= q * total:
            return bound
    return 0.0


def run(options: BenchOptions) -> list[BenchRow]:
    return [*_in_process(options), *_detection(options), *_http(options)]
