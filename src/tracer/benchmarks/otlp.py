"""OTLP/protobuf decoding speed (part of the "cluster" section: receivers decode).

Exports of 1,000 records over 10 services, as an SDK batches them: a string body, a
severity, a time, and either one unrelated attribute (most application logs) or the HTTP
status and duration attributes Tracer reads. Measured: `decode_export` (the wire scanner,
the path every protobuf export takes) to columns, per process, in CPU time.
"""

from __future__ import annotations

import random
import time

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tracer.benchmarks import BenchOptions, BenchRow
from tracer_processor.ingest.batch import IngestLimits
from tracer_processor.ingest.otlp import decode_export

SECTION = "cluster"


def _export(rng: random.Random, now: float, *, http: bool) -> bytes:
    request = ExportLogsServiceRequest()
    for service in range(10):
        resource = request.resource_logs.add()
        resource.resource.attributes.add(
            key="service.name", value=AnyValue(string_value=f"service-{service}")
        )
        scope = resource.scope_logs.add()
        for _ in range(100):
            failed = rng.random() < 0.02
            record = scope.log_records.add()
            record.time_unix_nano = int((now - rng.random()) * 1e9)
            record.severity_number = 17 if failed else 9
            record.body.string_value = f"GET /items/{rng.randint(1, 10**6)} done"
            if http:
                record.attributes.add(
                    key="http.response.status_code",
                    value=AnyValue(int_value=503 if failed else 200),
                )
                record.attributes.add(
                    key="duration_ms", value=AnyValue(double_value=rng.lognormvariate(3, 0.5))
                )
            else:
                record.attributes.add(key="code.function", value=AnyValue(string_value="get"))
    return bytes(request.SerializeToString())


def decode_rate(options: BenchOptions, *, http: bool) -> float:
    rng = random.Random(options.seed)
    now = time.time()
    bodies = [_export(rng, now, http=http) for _ in range(8)]
    limits = IngestLimits()
    rounds = 200 if options.quick else 2000
    best = 0.0
    for _ in range(3):
        started = time.process_time()  # CPU time: the machine may be shared
        for index in range(rounds):
            decode_export(bodies[index % len(bodies)], json=False, now=now, limits=limits)
        best = max(best, rounds * 1000 / (time.process_time() - started))
    return best


def run(options: BenchOptions) -> list[BenchRow]:
    plain = decode_rate(options, http=False)
    http = decode_rate(options, http=True)
    return [
        BenchRow(SECTION, "OTLP protobuf decode, application logs", plain, "logs/s",
                 ">= 1000000", plain >= 1_000_000),
        BenchRow(SECTION, "OTLP protobuf decode, with HTTP status + duration attributes",
                 http, "logs/s", ">= 1000000", http >= 1_000_000),
    ]  # fmt: skip
