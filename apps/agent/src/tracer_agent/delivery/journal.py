"""What a delivery leaves behind between tries: the attempt log (written before every call,
so a crash leaves a marker to look for), the steps already done, and the thread each
destination keeps for an alert (Slack ts, Jira key, PagerDuty incident, mail id).

The attempt log is the source of truth for a step: its latest attempt says whether the step
is done (`sent`, or `found` by a probe, with what the destination answered), uncertain (no
outcome: the worker died mid-call; or a timeout or lost connection: the call may have
arrived), or still to do. A step's answer, its attempt's outcome and the thread it opened are
written in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from tracer_agent.dbtypes import Conn
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


@dataclass(frozen=True, slots=True)
class StepHistory:
    done: dict[str, dict[str, Any]]  # step -> what the destination answered
    uncertain: dict[str, datetime]  # step -> when the call of unknown fate started


class DeliveryJournal:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def history(self, *, delivery_id: int) -> StepHistory:
        rows = await self._pool.fetch(
            """
            SELECT DISTINCT ON (step) step, started_at, finished_at, outcome, result
            FROM delivery_attempts WHERE delivery_id = $1 ORDER BY step, id DESC
            """,
            delivery_id,
        )
        done: dict[str, dict[str, Any]] = {}
        uncertain: dict[str, datetime] = {}
        for row in rows:
            if row["outcome"] in ("sent", "found"):
                done[row["step"]] = row["result"]
            elif row["finished_at"] is None or (
                row["outcome"] == "failed"
                and row["result"].get("error_kind") in ("timeout", "transport")
            ):
                uncertain[row["step"]] = row["started_at"]
        return StepHistory(done, uncertain)

    async def start_attempt(
        self, *, delivery_id: int, step: str, marker: str, tool: str, worker: str
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

    async def record_failure(self, *, attempt_id: int, error: str, error_kind: str) -> None:
        await self._pool.execute(
            """
            UPDATE delivery_attempts
            SET finished_at = now(), outcome = 'failed', error = $2, result = $3
            WHERE id = $1
            """,
            attempt_id,
            error[:2000],
            {"error_kind": error_kind},
        )

    async def record_not_found(self, *, delivery_id: int, step: str) -> None:
        """A probe found no trace of the calls a dead worker left open: they never arrived."""
        await self._pool.execute(
            """
            UPDATE delivery_attempts SET finished_at = now(), outcome = 'not_found'
            WHERE delivery_id = $1 AND step = $2 AND finished_at IS NULL
            """,
            delivery_id,
            step,
        )

    async def record_step(
        self,
        *,
        delivery_id: int,
        worker: str,
        step: str,
        result: dict[str, Any],
        thread: Thread | None,
        attempt_id: int | None,
    ) -> bool:
        """A step's answer: from the call `attempt_id` made, or (None) found by a probe among
        the calls left open. Returns whether this worker still holds the lease; the answer is
        kept either way, since the message is out."""
        async with self._pool.acquire() as conn, conn.transaction():
            if attempt_id is not None:
                await conn.execute(
                    "UPDATE delivery_attempts SET finished_at = now(), outcome = 'sent', "
                    "result = $2 WHERE id = $1",
                    attempt_id,
                    result,
                )
            else:
                await conn.execute(
                    """
                    UPDATE delivery_attempts SET finished_at = now(), outcome = 'found', result = $3
                    WHERE delivery_id = $1 AND step = $2 AND finished_at IS NULL
                    """,
                    delivery_id,
                    step,
                    result,
                )
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
                await _keep_thread(conn, thread)
            return status.endswith(" 1")

    async def thread(self, *, alert_id: int, destination: str) -> Thread | None:
        """The alert's thread on the destination, else the first thread any alert of its
        incident opened there: every alert of an incident is an update in one thread."""
        row = await self._pool.fetchrow(
            """
            SELECT t.alert_id, t.destination, t.toolkit, t.channel, t.thread_ref, t.data
            FROM delivery_threads t
            WHERE t.destination = $2
              AND (t.alert_id = $1 OR t.alert_id IN (
                  SELECT s.alert_id FROM deliveries s
                  WHERE s.destination = $2 AND s.incident_id = (
                      SELECT o.incident_id FROM deliveries o
                      WHERE o.alert_id = $1 AND o.incident_id IS NOT NULL LIMIT 1)))
            ORDER BY (t.alert_id = $1) DESC, t.created_at, t.alert_id
            LIMIT 1
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


async def _keep_thread(conn: Conn, thread: Thread) -> None:
    await conn.execute(
        """
        INSERT INTO delivery_threads (alert_id, destination, toolkit, channel, thread_ref, data)
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
