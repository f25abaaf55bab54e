"""What a delivery leaves behind between tries: the attempt log (written before every call,
so a crash leaves a marker to look for), the steps already done, and the thread each
destination keeps for an alert (Slack ts, Jira key, PagerDuty incident, mail id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from tracer_core.models import Toolkit


@dataclass(frozen=True, slots=True)
class Thread:
    """Where earlier messages about an alert went on one destination."""

    alert_id: int
    destination: str
    toolkit: Toolkit
    channel: str | None
    thread_ref: str
    data: dict[str, Any]


class DeliveryJournal:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def uncertain_steps(self, delivery_id: int) -> dict[str, datetime]:
        """Steps whose last call may have reached the destination without us learning it:
        the worker died mid-call (no outcome), or the call timed out or lost its connection.
        Maps each to when that call started."""
        rows = await self._pool.fetch(
            """
            SELECT DISTINCT ON (step) step, started_at, finished_at, outcome,
                   result ->> 'error_kind' AS error_kind
            FROM delivery_attempts WHERE delivery_id = $1 ORDER BY step, id DESC
            """,
            delivery_id,
        )
        return {
            row["step"]: row["started_at"]
            for row in rows
            if row["finished_at"] is None
            or (row["outcome"] == "failed" and row["error_kind"] in ("timeout", "transport"))
        }

    async def start_attempt(
        self, delivery_id: int, *, step: str, marker: str, tool: str, worker: str
    ) -> int:
        """Written and committed before the call, so a crash leaves a trace to look for."""
        value = await self._pool.fetchval(
            """
            INSERT INTO delivery_attempts (delivery_id, step, marker, tool, worker)
            VALUES ($1, $2, $3, $4, $5) RETURNING id
            """,
            delivery_id,
            step,
            marker,
            tool,
            worker,
        )
        return int(value)

    async def finish_attempt(
        self,
        attempt_id: int,
        *,
        outcome: str,
        error: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        await self._pool.execute(
            """
            UPDATE delivery_attempts SET finished_at = now(), outcome = $2, error = $3,
                result = $4
            WHERE id = $1
            """,
            attempt_id,
            outcome,
            None if error is None else error[:2000],
            result or {},
        )

    async def close_open_attempts(self, delivery_id: int, *, step: str, outcome: str) -> None:
        """Settle calls a dead worker left open, once a probe has told what became of them."""
        await self._pool.execute(
            """
            UPDATE delivery_attempts SET finished_at = now(), outcome = $3
            WHERE delivery_id = $1 AND step = $2 AND finished_at IS NULL
            """,
            delivery_id,
            step,
            outcome,
        )

    async def save_step(
        self,
        delivery_id: int,
        *,
        worker: str,
        step: str,
        result: dict[str, Any],
        thread: Thread | None,
    ) -> bool:
        """Remember a finished step (so a retry skips it) and the thread it opened, together."""
        async with self._pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                """
                UPDATE deliveries
                SET result = result || jsonb_build_object('steps',
                        coalesce(result -> 'steps', '{}'::jsonb)
                        || jsonb_build_object($3::text, $4::jsonb)),
                    updated_at = now()
                WHERE id = $1 AND lease_owner = $2 AND status = 'in_progress'
                """,
                delivery_id,
                worker,
                step,
                result,
            )
            if thread is not None:
                await conn.execute(
                    """
                    INSERT INTO delivery_threads
                        (alert_id, destination, toolkit, channel, thread_ref, data)
                    VALUES ($1, $2, $3, $4, $5, $6)
                    ON CONFLICT (alert_id, destination) DO UPDATE
                    SET thread_ref = EXCLUDED.thread_ref, channel = EXCLUDED.channel,
                        data = delivery_threads.data || EXCLUDED.data, updated_at = now()
                    """,
                    thread.alert_id,
                    thread.destination,
                    thread.toolkit.value,
                    thread.channel,
                    thread.thread_ref,
                    thread.data,
                )
            return status.endswith(" 1")

    async def thread(self, alert_id: int, destination: str) -> Thread | None:
        row = await self._pool.fetchrow(
            """
            SELECT alert_id, destination, toolkit, channel, thread_ref, data
            FROM delivery_threads WHERE alert_id = $1 AND destination = $2
            """,
            alert_id,
            destination,
        )
        if row is None:
            return None
        return Thread(
            alert_id=row["alert_id"],
            destination=row["destination"],
            toolkit=Toolkit(row["toolkit"]),
            channel=row["channel"],
            thread_ref=row["thread_ref"],
            data=row["data"],
        )
