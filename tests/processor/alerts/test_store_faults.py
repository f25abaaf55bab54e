"""The alert store under concurrency and broken connections, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import asyncpg
import pytest

from tests.processor.alerts.test_store import candidate, recovery
from tracer_core.db import create_pool
from tracer_core.models import Severity
from tracer_processor.alerts.connections import WarmConnections
from tracer_processor.alerts.reports import Decision
from tracer_processor.alerts.retry import RetryPolicy, is_transient
from tracer_processor.alerts.store import PostgresAlertStore

GATE = (7001, 1)  # advisory lock key the test holds to stop a writer mid-transaction
FAST_RETRY = RetryPolicy(attempts=8, base_delay=0.005, max_delay=0.05)


async def _waiting_on_gate(admin: asyncpg.Connection) -> list[int]:
    rows = await admin.fetch(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND classid = $1 AND objid = $2 AND objsubid = 2",
        *GATE,
    )
    return [r["pid"] for r in rows]


async def _until(predicate_coro: object, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await predicate_coro():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


async def test_connection_cut_after_the_writes_rolls_back_both_rows_and_retry_wins(
    database_url: str,
) -> None:
    """The writer's backend is terminated after inserting the alert and its outbox row but
    before commit: neither survives, and the store's retry opens the alert exactly once."""
    admin = await asyncpg.connect(database_url)
    pool = await create_pool(database_url, min_size=1, max_size=2, application_name="victim")
    try:
        await admin.execute(
            f"""
            CREATE FUNCTION test_gate() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF current_setting('application_name') = 'victim' THEN
                    PERFORM pg_advisory_xact_lock({GATE[0]}, {GATE[1]});
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER test_gate AFTER INSERT ON alert_events
                FOR EACH ROW EXECUTE FUNCTION test_gate();
            """
        )
        await admin.execute("SELECT pg_advisory_lock($1, $2)", *GATE)
        store = PostgresAlertStore(pool, processor_id="victim", retry=FAST_RETRY)
        decision = asyncio.create_task(store.report(candidate(0, Severity.HIGH)))

        async def blocked() -> bool:
            return bool(await _waiting_on_gate(admin))

        await _until(blocked)
        [pid] = await _waiting_on_gate(admin)
        # The alert and outbox rows are written but not committed: nobody else sees them.
        assert await admin.fetchval("SELECT count(*) FROM alerts") == 0
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        await admin.execute("SELECT pg_advisory_unlock($1, $2)", *GATE)
        result = await asyncio.wait_for(decision, 30)
        assert result.decision is Decision.OPENED
        assert store.retries >= 1
        assert await admin.fetchval("SELECT count(*) FROM alerts") == 1
        kinds = await admin.fetch("SELECT kind FROM alert_events")
        assert [r["kind"] for r in kinds] == ["opened"]
        assert await admin.fetchval("SELECT occurrences FROM alerts") == 1
    finally:
        await pool.close()
        await admin.close()


async def test_concurrent_replicas_on_separate_connections_open_one_alert(
    database_url: str,
) -> None:
    pools = [await create_pool(database_url, min_size=1, max_size=1) for _ in range(6)]
    try:
        stores = [
            PostgresAlertStore(pool, processor_id=f"r{i}", retry=FAST_RETRY)
            for i, pool in enumerate(pools)
        ]
        for round_ in range(5):
            results = await asyncio.gather(
                *(
                    s.report(candidate(round_, Severity(list(Severity)[i % 4])))
                    for i, s in enumerate(stores)
                )
            )
            if round_ == 0:
                assert sum(r.decision is Decision.OPENED for r in results) == 1
            assert len({r.alert_id for r in results}) == 1
        recoveries = await asyncio.gather(*(s.recover(recovery(8)) for s in stores))
        assert sorted(r.decision for r in recoveries).count(Decision.RESOLVED) == 1
        row = await pools[0].fetchrow(
            "SELECT count(*) AS alerts, sum(occurrences) AS occurrences FROM alerts"
        )
        assert row is not None
        assert (row["alerts"], row["occurrences"]) == (1, 30)
        kinds = [r["kind"] for r in await pools[0].fetch("SELECT kind FROM alert_events")]
        assert kinds.count("opened") == 1
        assert kinds.count("resolved") == 1
        assert kinds.count("escalated") <= 3
    finally:
        for pool in pools:
            await pool.close()


async def test_a_dead_client_holds_no_lock(database_url: str) -> None:
    """Killing a writer's connection while it holds the fingerprint lock frees the lock at
    once: the next replica decides without waiting for any timeout."""
    admin = await asyncpg.connect(database_url)
    holder = await asyncpg.connect(database_url)
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        await holder.execute("BEGIN")
        await holder.execute("SELECT tracer_lock_fingerprint('shop/checkout/error_spike')")
        store = PostgresAlertStore(pool, processor_id="next", retry=FAST_RETRY)
        pending = asyncio.create_task(store.report(candidate(0)))

        async def waiting() -> bool:
            return bool(
                await admin.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND NOT granted AND classid = 1953653091"
                )
            )

        await _until(waiting)
        assert not pending.done()
        holder_pid = holder.get_server_pid()
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", holder_pid)
        result = await asyncio.wait_for(pending, 10)
        assert result.decision is Decision.OPENED
    finally:
        holder.terminate()
        await pool.close()
        await admin.close()


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (asyncpg.exceptions.SerializationError("could not serialize"), True),
        (asyncpg.exceptions.DeadlockDetectedError("deadlock detected"), True),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed mid-operation"), True),
        (asyncpg.exceptions.TooManyConnectionsError("too many clients"), True),
        (ConnectionRefusedError(111, "refused"), True),
        (TimeoutError(), True),
        (asyncpg.exceptions.InterfaceError("connection is closed"), True),
        (asyncpg.exceptions.UndefinedFunctionError("no tracer_report_alert"), False),
        (asyncpg.exceptions.InterfaceError("cannot perform operation: another operation"), False),
        (ValueError("bad"), False),
    ],
)
def test_which_failures_are_retried(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_backoff_is_bounded_and_jittered() -> None:
    policy = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.5)
    rng = random.Random(3)
    delays = [policy.delay(n, rng) for n in range(1, 40)]
    assert all(0.0 <= d <= 0.5 for d in delays)
    assert delays[-1] >= 0.25  # grown to the cap (each wait is in [cap/2, cap])
    assert len(set(delays)) == len(delays)
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


async def test_connections_are_reused_for_bursts_and_handed_back_when_idle(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=4)
    try:
        warm = WarmConnections(pool, idle_seconds=0.05)
        pids = set()
        for _ in range(5):
            async with warm.connection() as conn:
                pids.add(await conn.fetchval("SELECT pg_backend_pid()"))
        assert len(pids) == 1  # one connection served the whole burst
        assert warm.idle == 1
        await _until_true(lambda: warm.idle == 0 and pool.get_idle_size() == pool.get_size())
        with pytest.raises(asyncpg.exceptions.DivisionByZeroError):
            async with warm.connection() as conn:
                await conn.execute("SELECT 1 / 0")
        assert warm.idle == 0  # a connection whose statement failed goes back to the pool
        tiny = await create_pool(database_url, min_size=0, max_size=1)
        try:
            lone = WarmConnections(tiny)  # never keeps the only connection of a pool
            async with lone.connection() as conn:
                await conn.execute("SELECT 1")
            assert lone.idle == 0
        finally:
            await tiny.close()
    finally:
        await pool.close()


async def _until_true(predicate: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)
