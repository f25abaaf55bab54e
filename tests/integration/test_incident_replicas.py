"""Processor replicas (real processes, one connection each) racing to open the same group:
each reports a different alert type of one service, with event-time windows skewed by up to
±3 s as their clocks would be, released at the same instant. One incident per group."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import asyncpg
import pytest

from tests.agent.helpers import eventually

BARRIER = 7_420_016
REPLICAS = 8
# One replica: wait at the barrier (a shared advisory lock the test holds exclusively), then
# report one detection through the same SQL function the processor's alert store calls.
REPLICA = """
import asyncio, sys, uuid
from datetime import UTC, datetime, timedelta
import asyncpg

async def main(url: str, index: int) -> None:
    conn = await asyncpg.connect(url)
    kinds = ("error_spike", "high_latency", "traffic_drop", "service_down")
    kind = kinds[index % 4]
    skew = timedelta(seconds=(index % 7) - 3)
    end = datetime(2026, 11, 30, 12, 0, tzinfo=UTC) + skew
    await conn.execute("SELECT pg_advisory_lock_shared($1)", BARRIER_KEY)
    await conn.fetchrow(
        "SELECT * FROM tracer_report_alert($1, $2, $3, 'default', 'checkout', $4, 'high',"
        " 'title', $5, $6, '{}'::jsonb, 300, 900)",
        uuid.uuid4(), f"replica-{index}", f"default/checkout/{kind}", kind,
        end - timedelta(seconds=60), end,
    )
    await conn.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
""".replace("BARRIER_KEY", str(BARRIER))


def _start_replicas(database_url: str) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen([sys.executable, "-c", REPLICA, database_url, str(i)])
        for i in range(REPLICAS)
    ]


@pytest.mark.slow
async def test_racing_replica_processes_open_one_incident(database_url: str) -> None:
    holder = await asyncpg.connect(database_url)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", BARRIER)
        replicas = _start_replicas(database_url)

        async def all_waiting() -> bool:
            waiting = await holder.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND objid = $1",
                BARRIER,
            )
            return bool(waiting == REPLICAS)

        await eventually(all_waiting, within=60)
        await holder.execute("SELECT pg_advisory_unlock($1)", BARRIER)
        codes = await asyncio.gather(*(asyncio.to_thread(p.wait, 60) for p in replicas))
        assert codes == [0] * REPLICAS

        assert await holder.fetchval("SELECT count(*) FROM incidents") == 1
        assert await holder.fetchval("SELECT count(*) FROM alerts") == 4
        assert await holder.fetchval("SELECT count(DISTINCT incident_id) FROM alerts") == 1
        assert (
            await holder.fetchval("SELECT count(*) FROM incident_events WHERE kind = 'opened'") == 1
        )
    finally:
        await holder.close()
