"""The alert writer in front of the real PostgreSQL store: ordering, bounds and outages."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlsplit

import asyncpg
import pytest

from tests.processor.alerts.test_store import candidate, recovery
from tests.support import eventually, free_port
from tracer_core.db import create_pool, with_database
from tracer_core.models import Severity
from tracer_processor.alerts.reports import Decision
from tracer_processor.alerts.retry import RetryPolicy
from tracer_processor.alerts.store import PostgresAlertStore
from tracer_processor.alerts.writer import AlertWriter

FAST_STORE_RETRY = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.005)
FAST_OUTAGE_BACKOFF = RetryPolicy(attempts=1, base_delay=0.005, max_delay=0.02)


@pytest.fixture
async def store(pool: asyncpg.Pool) -> PostgresAlertStore:
    return PostgresAlertStore(pool, processor_id="writer-test", retry=FAST_STORE_RETRY)


@pytest.fixture
async def outage(database_url: str) -> AsyncIterator[Callable[[bool], object]]:
    """`await outage(True)` cuts every connection to the test database and refuses new
    ones; `await outage(False)` lets them in again."""
    name = urlsplit(database_url).path.lstrip("/")
    admin = await asyncpg.connect(with_database(database_url, "postgres"))

    async def set_down(down: bool) -> None:
        await admin.execute(
            f"ALTER DATABASE {name} ALLOW_CONNECTIONS {'false' if down else 'true'}"
        )
        if down:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )

    try:
        yield set_down
    finally:
        await set_down(False)
        await admin.close()


async def test_reports_are_written_in_order_and_flushed_on_stop(
    store: PostgresAlertStore, pool: asyncpg.Pool
) -> None:
    writer = AlertWriter(store)
    await writer.start()
    writer.submit(candidate(0, Severity.LOW))
    writer.submit(candidate(1, Severity.HIGH))
    writer.submit(recovery(4))
    writer.submit(candidate(0, Severity.LOW, service="cart"))
    await writer.stop(timeout=10)
    stats = writer.stats()
    assert (stats.submitted, stats.written, stats.dropped, stats.buffered) == (4, 4, 0, 0)
    assert stats.decisions == {Decision.OPENED: 2, Decision.ESCALATED: 1, Decision.RESOLVED: 1}
    kinds = await pool.fetch("SELECT kind FROM alert_events ORDER BY id")
    assert sorted(r["kind"] for r in kinds) == ["escalated", "opened", "opened", "resolved"]


async def test_buffer_is_bounded_and_drops_are_counted(store: PostgresAlertStore) -> None:
    writer = AlertWriter(store, max_buffer=3)
    for bucket in range(5):
        writer.submit(candidate(bucket, service=f"svc-{bucket}"))
    assert (writer.buffered, writer.dropped, writer.submitted) == (3, 2, 5)
    await writer.start()
    await writer.stop(timeout=10)
    assert (writer.written, writer.dropped) == (3, 2)
    writer.submit(candidate(9))  # after stop: refused, counted, no exception
    assert writer.dropped == 3


async def test_outage_buffers_then_drains_on_reconnect(
    store: PostgresAlertStore, pool: asyncpg.Pool, outage: Callable[[bool], object]
) -> None:
    writer = AlertWriter(store, backoff=FAST_OUTAGE_BACKOFF)
    await writer.start()
    await outage(True)  # type: ignore[misc]
    for service in ("a", "b", "c"):
        writer.submit(candidate(0, service=service))
    await eventually(lambda: writer.retries >= 6)
    assert writer.written == 0
    assert writer.buffered == 3
    await outage(False)  # type: ignore[misc]
    await eventually(lambda: writer.written == 3)
    await writer.stop(timeout=10)
    assert writer.dropped == 0
    assert await pool.fetchval("SELECT count(*) FROM alerts") == 3
    assert await pool.fetchval("SELECT count(*) FROM alert_events") == 3


async def test_stop_gives_up_after_its_timeout_and_counts_what_is_left(
    store: PostgresAlertStore, outage: Callable[[bool], object]
) -> None:
    writer = AlertWriter(store, backoff=FAST_OUTAGE_BACKOFF)
    await writer.start()
    await outage(True)  # type: ignore[misc]
    writer.submit(candidate(0))
    writer.submit(candidate(1))
    await eventually(lambda: writer.retries >= 2)
    started = time.monotonic()
    await writer.stop(timeout=0.2)
    assert time.monotonic() - started < 5
    assert (writer.written, writer.dropped, writer.buffered) == (0, 2, 0)


async def test_malformed_report_is_rejected_without_blocking_others(
    store: PostgresAlertStore,
) -> None:
    writer = AlertWriter(store, concurrency=1)
    await writer.start()
    bad = replace(candidate(0), window_end=candidate(0).window_start - timedelta(seconds=1))
    writer.submit(bad)
    writer.submit(replace(candidate(0), alert_type="nonsense"))  # type: ignore[arg-type]
    writer.submit(candidate(0))
    await writer.stop(timeout=10)
    assert (writer.rejected, writer.written, writer.dropped) == (2, 1, 0)


async def test_submit_from_a_detector_thread(store: PostgresAlertStore) -> None:
    writer = AlertWriter(store)
    await writer.start()

    def detect() -> None:
        for bucket in range(20):
            writer.submit(candidate(bucket, service=f"svc-{bucket % 4}"))

    thread = threading.Thread(target=detect)
    thread.start()
    await asyncio.to_thread(thread.join)
    await eventually(lambda: writer.written == 20)
    await writer.stop(timeout=10)
    assert writer.decisions[Decision.OPENED] == 4
    assert writer.decisions[Decision.MERGED] == 16


async def test_writer_options_are_checked(store: PostgresAlertStore) -> None:
    with pytest.raises(ValueError, match="max_buffer"):
        AlertWriter(store, max_buffer=0)
    with pytest.raises(ValueError, match="concurrency"):
        AlertWriter(store, concurrency=0)


async def test_a_database_that_refuses_connections_is_an_outage_not_a_crash() -> None:
    pool = await create_pool(
        f"postgresql://tracer@127.0.0.1:{free_port()}/tracer", min_size=0, max_size=2
    )
    try:
        store = PostgresAlertStore(pool, processor_id="p", retry=FAST_STORE_RETRY)
        writer = AlertWriter(store, backoff=FAST_OUTAGE_BACKOFF)
        await writer.start()
        writer.submit(candidate(0))
        await eventually(lambda: writer.retries >= 2)
        await writer.stop(timeout=0.05)
        assert (writer.written, writer.dropped) == (0, 1)
    finally:
        await pool.close()
