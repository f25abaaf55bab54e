"""Seeded synthetic log traffic for `tracer bench --only processor`.

Two forms: JSON request bodies for the HTTP load test, and already decoded batches
(`bucket_batch`) for measuring detection without JSON decoding. Bodies are built once as
templates whose timestamps share a placeholder for the date and second
(`####-##-##T##:##:##`), then stamped with a real second at send time: a load generator can
send realistic, current RFC 3339 records at hundreds of requests per second without building
JSON on the hot path. Each record is about 200 bytes, like a real structured log line: a
service, a level, a message with ids in it, a status code, a duration and a trace id.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tracer_processor.ingest.batch import LogBatch

PLACEHOLDER = b"####-##-##T##:##:##"
_PATHS = ("/api/orders", "/api/cart", "/api/users", "/api/search", "/api/payments")


@dataclass(frozen=True, slots=True)
class TrafficShape:
    services: int = 100
    error_rate: float = 0.01
    batch_size: int = 1000
    seed: int = 7


def body_templates(shape: TrafficShape, count: int) -> list[bytes]:
    """`count` different JSON array bodies of `batch_size` records, timestamps unstamped."""
    rng = random.Random(shape.seed)
    templates = []
    for _ in range(count):
        offsets = sorted(rng.randrange(1000) for _ in range(shape.batch_size))
        records = []
        for millis in offsets:
            failed = rng.random() < shape.error_rate
            order = rng.randrange(10**8)
            path = rng.choice(_PATHS)
            records.append(
                {
                    "timestamp": f"{PLACEHOLDER.decode()}.{millis:03d}Z",
                    "service": f"svc-{rng.randrange(shape.services):05d}",
                    "level": "error" if failed else "info",
                    "message": f"POST {path}/{order} failed: upstream timeout after 3000 ms"
                    if failed
                    else f"GET {path}/{order} completed",
                    "status_code": 503 if failed else 200,
                    "duration_ms": round(rng.lognormvariate(3.4, 0.5), 2),
                    "trace_id": f"{rng.getrandbits(128):032x}",
                }
            )
        templates.append(orjson.dumps(records))
    return templates


def stamp(template: bytes, epoch_second: int) -> bytes:
    """The template with every timestamp in the given second (UTC)."""
    when = datetime.fromtimestamp(epoch_second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return template.replace(PLACEHOLDER, when.encode())


def bucket_batch(
    rng: np.random.Generator,
    *,
    services: int,
    start: float,
    seconds: float,
    per_service: int,
    error_rates: np.ndarray | None = None,
) -> LogBatch:
    """`per_service` records for each of `services` services in [start, start + seconds),
    as an already decoded batch (for measuring detection without the JSON decoding)."""
    n = services * per_service
    slots = np.repeat(np.arange(services), per_service)
    rates = np.full(services, 0.01) if error_rates is None else error_rates
    failed = rng.random(n) < rates[slots]
    names = [f"svc-{i:05d}" for i in range(services)]
    return LogBatch(
        timestamps=start + rng.random(n) * seconds,
        projects=["default"] * n,
        services=[names[i] for i in slots.tolist()],
        is_error=failed,
        durations=rng.lognormal(3.4, 0.3, n),
        messages=["request failed: upstream timeout after 3000 ms"] * n,
        received=n,
    )


def as_otlp_export(body: bytes) -> bytes:
    """A stamped JSON body as the OTLP/protobuf export an SDK would send for the same records:
    one resource per service, severity from the level, the HTTP status and duration as
    attributes, the message as the body."""
    by_service: dict[str, list[dict[str, Any]]] = {}
    for record in orjson.loads(body):
        by_service.setdefault(record["service"], []).append(record)
    request = ExportLogsServiceRequest()
    for service, records in by_service.items():
        resource = request.resource_logs.add()
        resource.resource.attributes.add(key="service.name", value=AnyValue(string_value=service))
        out = resource.scope_logs.add().log_records
        for record in records:
            when = datetime.fromisoformat(record["timestamp"]).timestamp()
            item = out.add(
                time_unix_nano=round(when * 1e9),
                severity_number=17 if record["level"] == "error" else 9,
            )
            item.body.string_value = record["message"]
            item.attributes.add(
                key="http.response.status_code", value=AnyValue(int_value=record["status_code"])
            )
            item.attributes.add(
                key="duration_ms", value=AnyValue(double_value=record["duration_ms"])
            )
    return bytes(request.SerializeToString())
