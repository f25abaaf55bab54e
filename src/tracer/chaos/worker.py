"""One processor replica of the chaos suite, in its own OS process.

It owns what a real replica owns on the alert path: a connection pool, a
`PostgresAlertStore` with its processor id, and an `AlertWriter` that the "detector" submits
to without waiting. The harness (`tracer.chaos.runner`) hands it one trial script at
a time over a pipe, may SIGKILL it at any instant, and may cut its database connection in the
middle of a transaction.
"""

from __future__ import annotations

import asyncio
import os
from multiprocessing.connection import Connection
from typing import Any

import asyncpg
import uvloop

from tracer.chaos.plan import TrialPlan, report_for
from tracer_core.db import create_pool
from tracer_processor.alerts.retry import RetryPolicy
from tracer_processor.alerts.store import PostgresAlertStore
from tracer_processor.alerts.writer import AlertWriter

# Fast retries: a trial lasts a fraction of a second and every fault in it is brief.
STORE_RETRY = RetryPolicy(attempts=6, base_delay=0.002, max_delay=0.05)
WRITER_BACKOFF = RetryPolicy(attempts=1, base_delay=0.005, max_delay=0.1)


async def receive(control: Connection, within: float | None = None) -> Any:
    """The next message on a pipe, without blocking the event loop; `TimeoutError` when none
    arrives `within` seconds."""
    if not control.poll():
        loop = asyncio.get_running_loop()
        readable = loop.create_future()

        def wake() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(control.fileno(), wake)
        try:
            await asyncio.wait_for(readable, within)
        finally:
            loop.remove_reader(control.fileno())
    return control.recv()


async def _run_trial(
    pool: asyncpg.Pool, plan: TrialPlan, index: int, control: Connection
) -> dict[str, int]:
    script = plan.replicas[index]
    store = PostgresAlertStore(
        pool,
        processor_id=script.processor_id,
        dedup_window_seconds=plan.covered_seconds,
        clock_skew_seconds=0.0,
        retry=STORE_RETRY,
    )
    kill_after = dict(plan.kills).get(index)

    def progress(item: object, result: object) -> None:
        # A replica the harness means to kill says when it is in the middle of its writes.
        if kill_after is not None and writer.written == kill_after:
            control.send(("writing", kill_after))

    writer = AlertWriter(store, backoff=WRITER_BACKOFF, on_result=progress)
    await writer.start()
    control.send(("armed", None))
    await receive(control)  # "go": every replica starts together
    await asyncio.sleep(script.start_delay)
    for step, pause in zip(script.steps, script.jitters, strict=True):
        await asyncio.sleep(pause)
        writer.submit(report_for(plan, script, step))
    await writer.stop(timeout=60)
    await store.close()
    return {
        "submitted": writer.submitted,
        "written": writer.written,
        "dropped": writer.dropped,
        "rejected": writer.rejected,
        "retries": writer.retries + store.retries,
    }


async def _serve(database_url: str, application_name: str, control: Connection) -> None:
    pool = await create_pool(
        database_url, min_size=1, max_size=4, application_name=application_name
    )
    try:
        control.send(("ready", os.getpid()))
        while True:
            message = await receive(control)
            if message == "exit":
                return
            plan, index = message
            stats = await _run_trial(pool, plan, index, control)
            control.send(("done", stats))
    finally:
        await pool.close()


def replica_main(database_url: str, application_name: str, control: Connection) -> None:
    """Process entry point (runs in a child started by the harness)."""
    uvloop.run(_serve(database_url, application_name, control))
