"""Incident grouping in PostgreSQL: the alerts of one service that open together are one
incident, the incident resolves with its last alert, and racing writers never open two."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from tracer_core.models import alert_fingerprint

OUTAGE = ("error_spike", "high_latency", "traffic_drop", "service_down")


async def report(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    alert_type: str,
    service: str = "checkout",
    severity: str = "high",
    processor: str = "p1",
) -> int:
    """A detection as the processor reports it; returns the alert id."""
    end = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    row = await conn.fetchrow(
        "SELECT decision, alert_id FROM tracer_report_alert("
        "$1, $2, $3, 'default', $4, $5, $6, 'title', $7, $8, '{}'::jsonb, 300, 900)",
        uuid.uuid4(),
        processor,
        alert_fingerprint("default", service, alert_type),
        service,
        alert_type,
        severity,
        end - timedelta(seconds=60),
        end,
    )
    assert row is not None
    return int(row["alert_id"])


async def recover(pool: asyncpg.Pool, *, alert_type: str, service: str = "checkout") -> None:
    await pool.fetchrow(
        "SELECT * FROM tracer_recover_alert($1, $2, $3, '{}'::jsonb)",
        uuid.uuid4(),
        alert_fingerprint("default", service, alert_type),
        datetime(2026, 11, 30, 13, 0, tzinfo=UTC),
    )


async def test_one_outage_is_one_incident_that_resolves_with_its_last_alert(
    pool: asyncpg.Pool,
) -> None:
    alert_ids = [await report(pool, alert_type=kind) for kind in OUTAGE]
    other = await report(pool, alert_type="error_spike", service="payments")

    incidents = await pool.fetch("SELECT id, status, severity FROM incidents ORDER BY id")
    assert len(incidents) == 2
    grouped = await pool.fetch(
        "SELECT DISTINCT incident_id FROM alerts WHERE id = ANY($1::bigint[])", alert_ids
    )
    assert [r["incident_id"] for r in grouped] == [incidents[0]["id"]]
    assert (
        await pool.fetchval("SELECT incident_id FROM alerts WHERE id = $1", other)
        == (incidents[1]["id"])
    )
    kinds = await pool.fetch(
        "SELECT kind FROM incident_events WHERE incident_id = $1 ORDER BY id", incidents[0]["id"]
    )
    assert [r["kind"] for r in kinds] == ["opened"] + ["alert_added"] * 3

    for kind in OUTAGE[:-1]:
        await recover(pool, alert_type=kind)
        assert (
            await pool.fetchval("SELECT status FROM incidents WHERE id = $1", incidents[0]["id"])
            == "open"
        )
    await recover(pool, alert_type=OUTAGE[-1])
    assert (
        await pool.fetchval("SELECT status FROM incidents WHERE id = $1", incidents[0]["id"])
        == "resolved"
    )


async def test_after_the_grouping_window_a_new_alert_opens_a_new_incident(
    pool: asyncpg.Pool,
) -> None:
    await report(pool, alert_type="error_spike")
    await recover(pool, alert_type="error_spike")
    # The incident opened long ago: move it out of the grouping window.
    await pool.execute("UPDATE incidents SET opened_at = opened_at - interval '1 hour'")
    await report(pool, alert_type="high_latency")
    statuses = await pool.fetch("SELECT status FROM incidents ORDER BY id")
    assert [r["status"] for r in statuses] == ["resolved", "open"]


async def test_within_the_grouping_window_a_resolved_incident_reopens(
    pool: asyncpg.Pool,
) -> None:
    await report(pool, alert_type="error_spike")
    await recover(pool, alert_type="error_spike")
    await report(pool, alert_type="high_latency")
    rows = await pool.fetch("SELECT status FROM incidents")
    assert [r["status"] for r in rows] == ["open"]


async def test_racing_connections_open_one_incident_per_group(database_url: str) -> None:
    """Sixteen connections report different alert types of two services at once."""
    conns = [await asyncpg.connect(database_url) for _ in range(16)]
    try:
        gate = asyncio.Event()

        async def race(index: int, conn: asyncpg.Connection) -> int:
            await gate.wait()
            return await report(
                conn,
                alert_type=OUTAGE[index % 4],
                service="checkout" if index % 2 else "cart",
                processor=f"p{index}",
            )

        tasks = [asyncio.create_task(race(i, c)) for i, c in enumerate(conns)]
        gate.set()
        await asyncio.gather(*tasks)
        rows = await conns[0].fetch(
            "SELECT service, count(*) AS n FROM incidents GROUP BY service ORDER BY service"
        )
        assert [(r["service"], r["n"]) for r in rows] == [("cart", 1), ("checkout", 1)]
        ungrouped = await conns[0].fetchval("SELECT count(*) FROM alerts WHERE incident_id IS NULL")
        assert ungrouped == 0
    finally:
        for conn in conns:
            await conn.close()
