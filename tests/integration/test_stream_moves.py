"""Two real processor replicas on one PostgreSQL: a healthy stream that moves from one to the
other (a load balancer, a collector reconnect) raises nothing, because the replicas share
when they last received each service; without sharing, the replica it left would page."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.processor.server import running_processor

RATE = 20  # records per second: 40 per 2 s bucket, a busy service
TIME = {
    "TRACER_BUCKET_SECONDS": "2",
    "TRACER_ALLOWED_LATENESS_SECONDS": "2",
    "TRACER_SILENCE_SECONDS": "3",
    "TRACER_WINDOW_SECONDS": "600",
    "TRACER_CHECKPOINT_SECONDS": "0",
}


def _records(rng: random.Random, start: float, end: float) -> list[dict[str, Any]]:
    count = int((end - start) * RATE)
    stamps = sorted(start + rng.random() * (end - start) for _ in range(count))
    return [
        {
            "timestamp": datetime.fromtimestamp(t, UTC).isoformat(),
            "service": "checkout",
            "project": "shop",
            "level": "info",
            "message": "charge ok",
            "duration_ms": 40 + rng.random() * 5,
        }
        for t in stamps
    ]


def _send(client: httpx.Client, url: str, records: list[dict[str, Any]]) -> None:
    for first in range(0, len(records), 1000):
        answer = client.post(f"{url}/api/logs", json=records[first : first + 1000]).json()
        assert answer["late"] == 0, answer


def _live(client: httpx.Client, url: str, rng: random.Random, seconds: float) -> None:
    """Live traffic: what arrived in the last half second, every half second."""
    last = time.time()
    end = last + seconds
    while last < end:
        time.sleep(0.5)  # real processes on the real clock: traffic has to take real time
        now = time.time()
        _send(client, url, _records(rng, last, now))
        last = now


async def _alert_types(database_url: str) -> list[str]:
    connection = await asyncpg.connect(database_url)
    try:
        return [r["alert_type"] for r in await connection.fetch("SELECT alert_type FROM alerts")]
    finally:
        await connection.close()


@pytest.mark.slow
@pytest.mark.parametrize(("share_seconds", "paged"), [("0.5", False), ("0", True)])
def test_a_stream_moved_between_replicas_is_not_an_outage(
    database_url: str, tmp_path: Path, share_seconds: str, paged: bool
) -> None:
    rng = random.Random(5)
    env = {**TIME, "TRACER_ARRIVALS_SHARE_SECONDS": share_seconds}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        running_processor(database_url, tmp_path / "a", {**env, "TRACER_PROCESSOR_ID": "a"}) as a,
        running_processor(database_url, tmp_path / "b", {**env, "TRACER_PROCESSOR_ID": "b"}) as b,
        httpx.Client(timeout=30) as client,
    ):
        now = time.time()
        _send(client, a, _records(rng, now - 600, now))  # ten minutes of history, caught up
        _live(client, a, rng, 4)
        _live(client, b, rng, 16)  # the stream moves to the other replica
        types = asyncio.run(_alert_types(database_url))
    assert ("service_down" in types) is paged, types
