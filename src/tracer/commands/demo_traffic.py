"""Seeded, realistic log traffic with one incident in it, for `tracer demo` and the end-to-end test.

Three services log steadily for a while (so the processors learn their normal rates); then
checkout's error rate jumps as its payment gateway times out, stays up for a few minutes and
comes back down, and the traffic carries on until the incident has been quiet long enough to
resolve. Timestamps are historical (they end ten minutes ago): the processors treat it as
a replay and reach the same decisions they would have reached live.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

SERVICES = ("checkout", "search", "payments")

_OK_MESSAGES = {
    "checkout": ("order {n} placed", "cart {n} priced", "order {n} confirmation sent"),
    "search": ("query served in {ms} ms", "index shard {n} refreshed"),
    "payments": ("payment {n} captured", "refund {n} issued"),
}
_BACKGROUND_ERRORS = ("client closed request {n}", "validation failed for request {n}")
# The gateway fails fast (503s, refused connections), so the incident is about errors alone.
_INCIDENT_ERRORS = (
    ("payment gateway answered 503 Service Unavailable (order {n})", 6),
    ("connection refused: payments-gateway:443 (attempt {a})", 3),
    ("circuit breaker open for payments-gateway (order {n})", 1),
)


@dataclass(frozen=True)
class Scenario:
    """The shape of the story; every length is in buckets of `bucket_seconds`."""

    bucket_seconds: int = 10
    warmup_buckets: int = 60  # quiet traffic the processors learn from
    incident_buckets: int = 9  # checkout failing
    recovery_buckets: int = 40  # healthy again, long enough to resolve
    records_per_bucket: int = 40  # per service
    incident_error_rate: float = 0.7  # reached by the end of the incident ...
    incident_error_rate_start: float = 0.25  # ... from this, so it opens high and escalates
    background_error_rate: float = 0.01
    incident_service: str = "checkout"

    @property
    def total_buckets(self) -> int:
        return self.warmup_buckets + self.incident_buckets + self.recovery_buckets

    def incident_window(self, start: datetime) -> tuple[datetime, datetime]:
        begin = start + timedelta(seconds=self.warmup_buckets * self.bucket_seconds)
        return begin, begin + timedelta(seconds=self.incident_buckets * self.bucket_seconds)


def start_time(scenario: Scenario, *, now: datetime | None = None) -> datetime:
    """Where the replay starts so that it ends ten minutes before `now`, on a bucket edge
    (well outside the processors' live horizon, so the end of the replay is not mistaken
    for services going silent)."""
    end = (now or datetime.now(UTC)) - timedelta(minutes=10)
    span = scenario.total_buckets * scenario.bucket_seconds
    start = end - timedelta(seconds=span)
    edge = int(start.timestamp()) // scenario.bucket_seconds * scenario.bucket_seconds
    return datetime.fromtimestamp(edge, UTC)


def _record(
    rng: random.Random, when: datetime, service: str, *, failing: bool, error_rate: float
) -> dict[str, Any]:
    n = rng.randrange(10_000, 99_999)
    duration = rng.lognormvariate(4.3, 0.35)  # about 75 ms
    if rng.random() < error_rate:
        if failing:
            templates = [t for t, _ in _INCIDENT_ERRORS]
            weights = [w for _, w in _INCIDENT_ERRORS]
            message = rng.choices(templates, weights)[0].format(n=n, a=rng.randint(1, 3))
            status = 503
        else:
            message = rng.choice(_BACKGROUND_ERRORS).format(n=n)
            status = 500
        level = "error"
    else:
        message = rng.choice(_OK_MESSAGES[service]).format(n=n, ms=round(duration))
        level, status = "info", 200
    return {
        "timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "service": service,
        "level": level,
        "message": message,
        "status_code": status,
        "duration_ms": round(duration, 1),
        "project": "shop",
    }


def _incident_rate(scenario: Scenario, into: int) -> float:
    """The error rate `into` buckets into the incident: it worsens halfway through."""
    if into < scenario.incident_buckets // 2:
        return scenario.incident_error_rate_start
    return scenario.incident_error_rate


def traffic(
    scenario: Scenario, start: datetime, *, seed: int, buckets_per_batch: int = 6
) -> Iterator[list[dict[str, Any]]]:
    """Batches of records in event-time order, `buckets_per_batch` buckets at a time."""
    rng = random.Random(seed)
    incident_from = scenario.warmup_buckets
    incident_to = incident_from + scenario.incident_buckets
    batch: list[dict[str, Any]] = []
    for bucket in range(scenario.total_buckets):
        base = start + timedelta(seconds=bucket * scenario.bucket_seconds)
        rows: list[tuple[datetime, dict[str, Any]]] = []
        for service in SERVICES:
            failing = service == scenario.incident_service and incident_from <= bucket < incident_to
            rate = (
                _incident_rate(scenario, bucket - incident_from)
                if failing
                else (scenario.background_error_rate)
            )
            count = scenario.records_per_bucket + rng.randint(-3, 3)
            for _ in range(count):
                when = base + timedelta(seconds=rng.uniform(0, scenario.bucket_seconds - 0.001))
                rows.append((when, _record(rng, when, service, failing=failing, error_rate=rate)))
        rows.sort(key=lambda item: item[0])
        batch.extend(record for _, record in rows)
        if (bucket + 1) % buckets_per_batch == 0:
            yield batch
            batch = []
    if batch:
        yield batch
