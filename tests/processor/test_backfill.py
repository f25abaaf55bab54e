"""A backfill through the API: six days of a shop service replayed in minutes, with two real
incidents two days apart, gives two alerts, each with its own event-time window."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np
import pytest
from starlette.testclient import TestClient

from tracer_core.clock import ManualClock
from tracer_processor.app import create_app
from tracer_processor.settings import ProcessorSettings

DAY_ONE = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
DAYS = 6
RATE = 0.5  # records per second: 30 per 60 s bucket
INCIDENTS = [  # a 20-minute error spike at 14:00 on day 2 and on day 4
    (DAY_ONE + timedelta(days=1, hours=14), DAY_ONE + timedelta(days=1, hours=14, minutes=20)),
    (DAY_ONE + timedelta(days=3, hours=14), DAY_ONE + timedelta(days=3, hours=14, minutes=20)),
]


def six_days(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    seconds = DAYS * 86_400
    n = int(rng.poisson(RATE * seconds))
    ts = np.sort(DAY_ONE.timestamp() + rng.random(n) * seconds)
    failing = np.full(n, 0.01)
    for start, end in INCIDENTS:
        failing[(ts >= start.timestamp()) & (ts < end.timestamp())] = 0.4
    return ts, rng.random(n) < failing


async def _alerts(database_url: str) -> list[tuple[str, datetime, datetime]]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT alert_type, window_start, window_end FROM alerts ORDER BY window_start"
        )
    finally:
        await connection.close()
    return [(r["alert_type"], r["window_start"], r["window_end"]) for r in rows]


@pytest.mark.slow  # about half a million records through the API
def test_six_days_replayed_with_two_incidents_give_two_alerts(database_url: str) -> None:
    settings = ProcessorSettings(
        database_url=database_url,
        processor_id="backfill",
        bucket_seconds=60,
        window_seconds=3600,
        checkpoint_seconds=0,
        arrivals_share_seconds=0,
    )
    ts, failed = six_days(np.random.default_rng(11))
    clock = ManualClock(DAY_ONE + timedelta(days=DAYS, minutes=5))
    with TestClient(create_app(settings, clock=clock)) as client:
        for first in range(0, ts.size, 5000):
            part = slice(first, first + 5000)
            records = [
                {
                    "timestamp": datetime.fromtimestamp(t, UTC).isoformat(),
                    "service": "checkout",
                    "project": "shop",
                    "level": "error" if bad else "info",
                    "message": "charge failed" if bad else "charge ok",
                    "duration_ms": 40,
                }
                for t, bad in zip(ts[part].tolist(), failed[part].tolist(), strict=True)
            ]
            answer = client.post("/api/logs", json=records).json()
            assert (answer["accepted"], answer["late"]) == (len(records), 0)
    alerts = asyncio.run(_alerts(database_url))  # the writer drained on shutdown
    assert [a[0] for a in alerts] == ["error_spike", "error_spike"]
    for (_, start, end), (incident_start, incident_end) in zip(alerts, INCIDENTS, strict=True):
        assert incident_start <= start < incident_end
        assert end <= incident_end + timedelta(minutes=10)
