"""The real processor app checkpoints its baselines while it runs and when it stops, and a
processor started afterwards is warm before its first request: it shows the baselines at
once and alerts on an error spike in the first buckets it sees."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
from starlette.testclient import TestClient

from tests.support import wait_until
from tracer_core.clock import ManualClock
from tracer_processor.app import create_app
from tracer_processor.settings import ProcessorSettings

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def send_buckets(
    client: TestClient, clock: ManualClock, first: int, count: int, errors: int
) -> None:
    """`count` buckets of 100 records of checkout (`errors` of them failing), arriving live."""
    for step in range(first, first + count):
        start = START + timedelta(seconds=10 * step)
        records = [
            {
                "timestamp": (start + timedelta(seconds=i * 0.1)).isoformat(),
                "service": "checkout",
                "project": "shop",
                "level": "error" if i % 100 < errors else "info",
                "message": "charge failed" if i % 100 < errors else "charge ok",
                "duration_ms": 40 + i % 7,
            }
            for i in range(100)
        ]
        clock.set(start + timedelta(seconds=10.5))
        assert client.post("/api/logs", json=records).json()["accepted"] == 100
        client.app.state.pipeline.tick()  # type: ignore[attr-defined]


async def _checkpoint(database_url: str) -> tuple[datetime, str] | None:
    connection = await asyncpg.connect(database_url)
    try:
        row = await connection.fetchrow("SELECT bucket_end, saved_by FROM baseline_checkpoints")
        return (row["bucket_end"], row["saved_by"]) if row else None
    finally:
        await connection.close()


def test_a_restarted_processor_is_warm_before_its_first_request(database_url: str) -> None:
    def settings(name: str) -> ProcessorSettings:
        return ProcessorSettings(
            database_url=database_url,
            processor_id=name,
            window_seconds=600,
            warmup_buckets=20,
            checkpoint_seconds=0.05,
        )

    clock = ManualClock(START)
    with TestClient(create_app(settings("before"), clock=clock)) as client:
        send_buckets(client, clock, 0, 25, errors=1)
        wait_until(lambda: asyncio.run(_checkpoint(database_url)) is not None, timeout=30)
        send_buckets(client, clock, 25, 3, errors=1)
    # The clean shutdown saved the last bucket closed: bucket 25, as the watermark (newest
    # event minus the lateness) is inside bucket 26 and the service never fell silent.
    assert asyncio.run(_checkpoint(database_url)) == (START + timedelta(seconds=260), "before")

    clock.advance(30)  # the restart takes half a minute
    with TestClient(create_app(settings("after"), clock=clock)) as client:
        baselines = client.get("/api/services").json()[0]["baselines"]
        assert baselines["error_rate"]["buckets"] >= 20
        assert client.get("/api/alerts").json() == []
        send_buckets(client, clock, 31, 3, errors=25)  # a 25 % error spike right away

        def alerted() -> list[str]:
            alerts = client.get("/api/alerts").json()
            return [a["alert_type"] for a in alerts]

        wait_until(lambda: alerted() == ["error_spike"], timeout=30)
