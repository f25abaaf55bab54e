"""Deterministic historical traffic for clustered tests, and the database's view of it."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

BUCKET = 10


def history(
    rng: random.Random, *, services: list[str], minutes: int, incident: tuple[int, int] | None
) -> list[dict[str, Any]]:
    """`minutes` of traffic per service ending 20 minutes ago, time-ordered; during
    `incident` (minutes from the start) the first service fails 40 % of its requests.
    Each service ends with a sentinel record just after the history, in the next bucket:
    with no allowed lateness (`fleet.CLUSTER_ENV`) it closes every bucket before it, so
    all other records end up in scored buckets, and no bucket is left empty."""
    now = datetime.now(UTC).timestamp()
    start = now - now % BUCKET - (minutes + 20) * 60
    records: list[dict[str, Any]] = []
    for second in range(minutes * 60):
        for service in services:
            failing = (
                incident is not None
                and service == services[0]
                and incident[0] * 60 <= second < incident[1] * 60
            )
            for _ in range(rng.randint(3, 5)):
                failed = rng.random() < (0.4 if failing else 0.01)
                records.append(_record(service, start + second + rng.random(), failed))
    end = start + minutes * 60
    records.extend(_record(service, end + 0.5, False) for service in services)
    return records


def _record(service: str, epoch: float, failed: bool) -> dict[str, Any]:
    return {
        "timestamp": int(epoch * 1000),
        "service": service,
        "project": "shop",
        "level": "error" if failed else "info",
        "message": "upstream timed out" if failed else "ok",
        "duration_ms": 20.0,
    }


def send(
    http: httpx.Client, urls: list[str], records: list[dict[str, Any]], size: int = 1000
) -> int:
    """POST in chunks of `size`, round-robin over `urls`, retrying a 503 (as clients do);
    returns the records accepted."""
    accepted = 0
    for number, first in enumerate(range(0, len(records), size)):
        chunk = records[first : first + size]
        url = urls[number % len(urls)]
        accepted += post_until_accepted(http, url, chunk)
    return accepted


def post_until_accepted(http: httpx.Client, url: str, chunk: list[dict[str, Any]]) -> int:
    for _ in range(600):  # a client's retry loop: back off a little after a 503
        try:
            response = http.post(f"{url}/api/logs", json=chunk)
        except httpx.HTTPError:
            continue
        if response.status_code == 202:
            return int(response.json()["accepted"])
        assert response.status_code == 503, response.text
        assert int(response.headers["retry-after"]) > 0
        time.sleep(0.1)
    raise AssertionError("the receiver never accepted the batch")


async def _fetch(database_url: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


def rows(database_url: str, query: str) -> list[asyncpg.Record]:
    return asyncio.run(_fetch(database_url, query))


def folded(database_url: str) -> int:
    return int(
        rows(database_url, "SELECT coalesce(sum(folded), 0) AS n FROM partition_leases")[0]["n"]
    )


def alerts(database_url: str) -> list[asyncpg.Record]:
    return rows(database_url, "SELECT service, alert_type FROM alerts ORDER BY id")


def alert_details(database_url: str) -> list[asyncpg.Record]:
    return rows(database_url, "SELECT * FROM alerts ORDER BY id")
