"""The outbox and the leases: expanding alert events into deliveries, and claiming them.

Every method is one short statement or transaction; none is ever open while a destination is
being called. The rules that make several agent replicas safe live in the SQL here:

- an outbox event is expanded once (`FOR UPDATE SKIP LOCKED` on the event, `dispatched_at`
  set in the same transaction as the deliveries), and only after the earlier events of its
  alert, so a resolution always sees where the opening went;
- a delivery is claimed with `FOR UPDATE SKIP LOCKED` and a lease that `next_attempt_at`
  doubles as, so an expired lease makes the row due again with no extra index;
- a delivery waits while an earlier event of its alert on the same destination is still
  unfinished, so a thread reply can never overtake the message that opens the thread;
- completing or failing a delivery requires still holding its lease.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from tracer_agent.dbtypes import Conn
from tracer_agent.delivery.quiet import EventVerdict, judge_event
from tracer_agent.routing import Destination, RoutingRules
from tracer_agent.stores.alerts import AlertRow, AlertStore
from tracer_core.models import AlertEventKind, DeliveryStatus, Severity, Toolkit


async def _insert_deliveries(
    conn: Conn,
    alert_id: int,
    event_id: int,
    destinations: list[Destination],
    incident_id: int | None,
) -> None:
    for destination in destinations:
        await conn.execute(
            """
            INSERT INTO deliveries (alert_id, event_id, destination, toolkit, target, incident_id)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (event_id, destination) DO NOTHING
            """,
            alert_id,
            event_id,
            destination.name,
            destination.toolkit.value,
            destination.model_dump(mode="json"),
            incident_id,
        )


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: int
    alert_id: int
    event_id: int
    event_kind: AlertEventKind
    event_severity: Severity
    destination: Destination
    attempts: int
    result: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExpandedEvent:
    event_id: int
    alert_id: int
    created_at: datetime
    deliveries: int


class DeliveryStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # -- the outbox ------------------------------------------------------------------------

    async def expand_events(self, rules: RoutingRules, *, limit: int = 100) -> list[ExpandedEvent]:
        """Turn undispatched alert events into deliveries; returns what was expanded."""
        expanded: list[ExpandedEvent] = []
        async with self._pool.acquire() as conn, conn.transaction():
            events = await conn.fetch(
                """
                SELECT e.id, e.alert_id, e.kind, e.severity, e.created_at
                FROM alert_events e
                WHERE e.dispatched_at IS NULL
                  AND NOT EXISTS (
                      SELECT 1 FROM alert_events p
                      WHERE p.alert_id = e.alert_id AND p.id < e.id AND p.dispatched_at IS NULL)
                ORDER BY e.id
                LIMIT $1
                FOR UPDATE OF e SKIP LOCKED
                """,
                limit,
            )
            alerts = await AlertStore(conn).get_many(alert_ids=[e["alert_id"] for e in events])
            for event in events:
                alert = alerts[event["alert_id"]]
                verdict = await judge_event(conn, rules, event, alert)
                if verdict.quiet is None:
                    destinations = await self._destinations_for(conn, rules, event, alert, verdict)
                else:
                    destinations = []
                    if verdict.silence_id is not None:
                        await conn.execute(
                            "UPDATE alert_events SET held_by_silence = $2 WHERE id = $1",
                            event["id"],
                            verdict.silence_id,
                        )
                await _insert_deliveries(
                    conn, event["alert_id"], event["id"], destinations, verdict.incident_id
                )
                expanded.append(
                    ExpandedEvent(
                        event["id"], event["alert_id"], event["created_at"], len(destinations)
                    )
                )
            if events:
                await conn.execute(
                    "UPDATE alert_events SET dispatched_at = now() WHERE id = ANY($1::bigint[])",
                    [e["id"] for e in events],
                )
        return expanded

    async def release_held(self, rules: RoutingRules, *, limit: int = 100) -> list[int]:
        """Notify alerts whose silence ended while they are still open, exactly once: the
        first held event of each such alert gets its deliveries, and every held event of the
        alert is cleared in the same transaction. Returns the released event ids."""
        released: list[int] = []
        async with self._pool.acquire() as conn, conn.transaction():
            held = await AlertStore(conn).held_events(limit=limit)
            done: set[int] = set()
            for event in held:
                if event["silence"] is not None or event["alert_id"] in done:
                    continue
                done.add(event["alert_id"])
                if event["alert_status"] == "open":
                    alert = (await AlertStore(conn).get_many(alert_ids=[event["alert_id"]]))[
                        event["alert_id"]
                    ]
                    destinations = rules.route(
                        severity=alert.severity,
                        service=alert.service,
                        alert_type=alert.alert_type,
                        project=alert.project,
                    )
                    verdict = await judge_event(conn, rules, event, alert)
                    await _insert_deliveries(
                        conn, alert.id, event["id"], destinations, verdict.incident_id
                    )
                    released.append(event["id"])
            if done:
                await conn.execute(
                    "UPDATE alert_events SET held_by_silence = NULL "
                    "WHERE alert_id = ANY($1::bigint[]) AND held_by_silence IS NOT NULL",
                    sorted(done),
                )
        return released

    async def _destinations_for(
        self,
        conn: Conn,
        rules: RoutingRules,
        event: asyncpg.Record,
        alert: AlertRow,
        verdict: EventVerdict,
    ) -> list[Destination]:
        """Where the event goes: the destinations its alert (or, for the resolution that
        closes an incident, any alert of the incident) was sent to, plus, for openings and
        escalations, what the rules add. An alert resolving inside a still-open incident is a
        reply in chat and mail only: the Jira issue and PagerDuty incident stay open."""
        kind = AlertEventKind(event["kind"])
        earlier = await conn.fetch(
            """
            SELECT DISTINCT ON (destination) destination, target
            FROM deliveries
            WHERE (alert_id = $1 OR ($3 AND incident_id = $4)) AND event_id < $2
            ORDER BY destination, id
            """,
            event["alert_id"],
            event["id"],
            verdict.closes_incident,
            verdict.incident_id,
        )
        chosen = [Destination.model_validate(row["target"]) for row in earlier]
        if kind is AlertEventKind.RESOLVED:
            if verdict.incident_open:
                return [d for d in chosen if d.toolkit in (Toolkit.SLACK, Toolkit.GMAIL)]
            return chosen
        for destination in rules.route(
            severity=Severity(event["severity"]),
            service=alert.service,
            alert_type=alert.alert_type,
            project=alert.project,
        ):
            if all(d.name != destination.name for d in chosen):
                chosen.append(destination)
        return chosen

    # -- leases ------------------------------------------------------------------------------

    async def claim(
        self, *, worker: str, limit: int, lease_seconds: float
    ) -> list[ClaimedDelivery]:
        rows = await self._pool.fetch(
            """
            WITH due AS (
                SELECT d.id FROM deliveries d
                WHERE d.status IN ('pending', 'failed', 'in_progress')
                  AND d.next_attempt_at <= now()
                  AND NOT EXISTS (
                      SELECT 1 FROM deliveries p
                      WHERE (p.alert_id = d.alert_id OR p.incident_id = d.incident_id)
                        AND p.destination = d.destination
                        AND p.event_id < d.event_id
                        AND p.status IN ('pending', 'failed', 'in_progress'))
                ORDER BY d.next_attempt_at, d.id
                LIMIT $2
                FOR UPDATE OF d SKIP LOCKED
            )
            UPDATE deliveries d
            SET status = 'in_progress', lease_owner = $1,
                lease_expires_at = now() + make_interval(secs => $3),
                next_attempt_at = now() + make_interval(secs => $3),
                attempts = d.attempts + 1, updated_at = now()
            FROM due, alert_events e
            WHERE d.id = due.id AND e.id = d.event_id
            RETURNING d.id, d.alert_id, d.event_id, e.kind, e.severity, d.target, d.attempts,
                      d.result
            """,
            worker,
            limit,
            lease_seconds,
        )
        return [
            ClaimedDelivery(
                id=row["id"],
                alert_id=row["alert_id"],
                event_id=row["event_id"],
                event_kind=AlertEventKind(row["kind"]),
                event_severity=Severity(row["severity"]),
                destination=Destination.model_validate(row["target"]),
                attempts=row["attempts"],
                result=row["result"],
            )
            for row in rows
        ]

    async def renew_lease(self, *, delivery_id: int, worker: str, lease_seconds: float) -> bool:
        status = await self._pool.execute(
            """
            UPDATE deliveries
            SET lease_expires_at = now() + make_interval(secs => $3),
                next_attempt_at = now() + make_interval(secs => $3), updated_at = now()
            WHERE id = $1 AND lease_owner = $2 AND status = 'in_progress'
            """,
            delivery_id,
            worker,
            lease_seconds,
        )
        return status.endswith(" 1")

    async def complete(
        self, *, delivery_id: int, worker: str, result: dict[str, Any]
    ) -> float | None:
        """Mark delivered; returns seconds since the alert event committed (database clock),
        or None when the lease was lost meanwhile."""
        value = await self._pool.fetchval(
            """
            UPDATE deliveries d
            SET status = 'delivered', result = $3, last_error = NULL, lease_owner = NULL,
                lease_expires_at = NULL, delivered_at = clock_timestamp(), updated_at = now()
            FROM alert_events e
            WHERE d.id = $1 AND d.lease_owner = $2 AND d.status = 'in_progress'
              AND e.id = d.event_id
            RETURNING extract(epoch FROM clock_timestamp() - e.created_at)
            """,
            delivery_id,
            worker,
            result,
        )
        return None if value is None else max(float(value), 0.0)

    async def fail(
        self,
        *,
        delivery_id: int,
        worker: str,
        error: str,
        retry_in_seconds: float | None,
        counts_as_attempt: bool = True,
    ) -> DeliveryStatus | None:
        """Record a failed try: retried after `retry_in_seconds`, or dead when that is None.
        A try that does not count (rate-limited before calling) gives its attempt back."""
        if retry_in_seconds is None:
            new_status = DeliveryStatus.DEAD
        elif counts_as_attempt:
            new_status = DeliveryStatus.FAILED
        else:
            new_status = DeliveryStatus.PENDING
        row = await self._pool.fetchrow(
            """
            UPDATE deliveries
            SET status = $3, last_error = $4, lease_owner = NULL, lease_expires_at = NULL,
                next_attempt_at = now() + make_interval(secs => $5),
                attempts = attempts - CASE WHEN $6 THEN 0 ELSE 1 END, updated_at = now()
            WHERE id = $1 AND lease_owner = $2 AND status = 'in_progress'
            RETURNING status
            """,
            delivery_id,
            worker,
            new_status.value,
            error[:2000],
            retry_in_seconds or 0.0,
            counts_as_attempt,
        )
        return None if row is None else DeliveryStatus(row["status"])

    async def next_due_in(self) -> float | None:
        """Seconds until the next delivery becomes due (None when nothing waits)."""
        value = await self._pool.fetchval(
            """
            SELECT extract(epoch FROM min(next_attempt_at) - now()) FROM deliveries
            WHERE status IN ('pending', 'failed', 'in_progress')
            """
        )
        return None if value is None else max(float(value), 0.0)
