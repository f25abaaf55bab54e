"""The `incidents` and `incident_events` tables: listing incidents, one incident with its
alerts, timeline and deliveries, and the changes people make (acknowledge, unacknowledge,
resolve by hand). Grouping itself happens in PostgreSQL (sql/functions/tracer_group_alert.sql).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from tracer_agent.dbtypes import Conn
from tracer_agent.stores.alerts import AlertStore
from tracer_core.models import AlertEventKind

_COLUMNS = """
    i.id, i.project, i.service, i.status, i.severity, i.opened_at, i.last_alert_at,
    i.resolved_at, i.resolved_by, i.acknowledged_at, i.acknowledged_by, i.renotify_count,
    i.last_notified_at
"""


class Incident(BaseModel):
    id: int
    project: str
    service: str
    status: str
    severity: str
    opened_at: datetime
    last_alert_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    renotify_count: int
    last_notified_at: datetime | None


class IncidentEvent(BaseModel):
    id: int
    kind: str
    alert_id: int | None
    actor: str | None
    created_at: datetime


class IncidentAlert(BaseModel):
    id: int
    alert_type: str
    severity: str
    status: str
    title: str
    first_seen_at: datetime
    resolved_at: datetime | None
    silenced_by: int | None


class IncidentListing(Incident):
    """An incident as the console's list shows it."""

    title: str | None
    alert_count: int
    silenced: bool


class IncidentDetail(Incident):
    alerts: list[IncidentAlert]
    events: list[IncidentEvent]
    deliveries: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    """What an acknowledge/unacknowledge/resolve did: `incident` is None when it does not
    exist; `changed` is False when it was already in the asked state."""

    incident: Incident | None
    changed: bool


_NO_ALERTS: dict[str, Any] = {"title": None, "alert_count": 0, "silenced": False}


# The outbox event each change sends to the incident's threads.
_NOTICE = {
    "acknowledged": AlertEventKind.ACKNOWLEDGED,
    "unacknowledged": AlertEventKind.UNACKNOWLEDGED,
    "manually_resolved": AlertEventKind.RESOLVED_BY_HAND,
}


async def queue_notice(
    conn: Conn, *, incident_id: int, kind: AlertEventKind, actor: str | None
) -> int | None:
    """Write an incident notice on the incident's first alert and its deliveries to every
    destination the incident already used, in the caller's transaction: the notice exists
    exactly when the change it announces does. Returns the event id (None: no alert yet)."""
    alert_id = await AlertStore(conn).first_of_incident(incident_id=incident_id)
    if alert_id is None:
        return None
    event_id: int = await conn.fetchval(
        """
        INSERT INTO alert_events (alert_id, kind, severity, actor, dispatched_at)
        SELECT $2, $3, severity, $4, now() FROM incidents WHERE id = $1
        RETURNING id
        """,
        incident_id,
        alert_id,
        kind.value,
        actor,
    )
    await conn.execute(
        """
        INSERT INTO deliveries (alert_id, event_id, destination, toolkit, target, incident_id)
        SELECT e.alert_id, e.id, d.destination, d.toolkit, d.target, $1
        FROM alert_events e,
             (SELECT DISTINCT ON (destination) destination, toolkit, target
              FROM deliveries WHERE incident_id = $1 ORDER BY destination, id) d
        WHERE e.id = $2
        ON CONFLICT (event_id, destination) DO NOTHING
        """,
        incident_id,
        event_id,
    )
    return event_id


class IncidentStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def list_incidents(
        self,
        *,
        status: str | None,
        service: str | None,
        since: datetime | None,
        limit: int,
    ) -> list[Incident]:
        """Newest first; `since` keeps incidents open then or opened, resolved after it."""
        rows = await self._pool.fetch(
            f"""
            SELECT {_COLUMNS} FROM incidents i
            WHERE ($1::text IS NULL OR i.status = $1)
              AND ($2::text IS NULL OR i.service = $2)
              AND ($3::timestamptz IS NULL OR i.status = 'open' OR i.resolved_at >= $3
                   OR i.opened_at >= $3)
            ORDER BY i.id DESC LIMIT $4
            """,
            status,
            service,
            since,
            limit,
        )
        return [Incident.model_validate(dict(r)) for r in rows]

    async def get(self, *, incident_id: int) -> IncidentDetail | None:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM incidents i WHERE i.id = $1", incident_id
            )
            if row is None:
                return None
            alerts = await AlertStore(conn).for_incident(incident_id=incident_id)
            events = await conn.fetch(
                "SELECT id, kind, alert_id, actor, created_at FROM incident_events "
                "WHERE incident_id = $1 ORDER BY id",
                incident_id,
            )
            deliveries = await conn.fetch(
                """
                SELECT d.id, d.alert_id, d.event_id, d.destination, d.toolkit, d.status,
                       d.attempts, d.last_error, d.delivered_at
                FROM deliveries d WHERE d.alert_id = ANY($1::bigint[]) ORDER BY d.id
                """,
                [a["id"] for a in alerts],
            )
        return IncidentDetail(
            **dict(row),
            alerts=[IncidentAlert.model_validate(dict(a)) for a in alerts],
            events=[IncidentEvent.model_validate(dict(e)) for e in events],
            deliveries=[dict(d) for d in deliveries],
        )

    async def acknowledge(self, *, incident_id: int, actor: str) -> ChangeOutcome:
        return await self._change(
            incident_id,
            "acknowledged",
            actor,
            "UPDATE incidents SET acknowledged_at = now(), acknowledged_by = $2 "
            "WHERE id = $1 AND acknowledged_at IS NULL",
        )

    async def unacknowledge(self, *, incident_id: int, actor: str) -> ChangeOutcome:
        return await self._change(
            incident_id,
            "unacknowledged",
            actor,
            "UPDATE incidents SET acknowledged_at = NULL, acknowledged_by = NULL "
            "WHERE id = $1 AND acknowledged_at IS NOT NULL AND $2::text IS NOT NULL",
        )

    async def resolve(self, *, incident_id: int, actor: str) -> ChangeOutcome:
        """Resolved by hand: its still-open alerts stay attached to it until they recover, so
        the service reopens as a new incident only after being healthy once."""
        return await self._change(
            incident_id,
            "manually_resolved",
            actor,
            "UPDATE incidents SET status = 'resolved', resolved_at = now(), resolved_by = $2 "
            "WHERE id = $1 AND status = 'open'",
        )

    async def renotify_due(
        self, *, now: datetime, after_seconds: float, max_count: int, limit: int = 50
    ) -> list[int]:
        """Re-notify the open critical incidents nobody acknowledged within `after_seconds`
        of their last notification, at most `max_count` times each; returns their ids.

        The count moves with the notice in one transaction, and `FOR UPDATE SKIP LOCKED`
        plus the re-checked conditions in the UPDATE mean two replicas sweeping at once
        never both re-notify one incident for one period."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """
                WITH due AS (
                    SELECT id FROM incidents
                    WHERE status = 'open' AND severity = 'critical'
                      AND acknowledged_at IS NULL AND renotify_count < $3
                      AND coalesce(last_notified_at, opened_at)
                          <= $1::timestamptz - make_interval(secs => $2::double precision)
                    ORDER BY id LIMIT $4
                    FOR UPDATE SKIP LOCKED)
                UPDATE incidents i
                SET renotify_count = i.renotify_count + 1, last_notified_at = $1
                FROM due WHERE i.id = due.id
                  AND i.status = 'open' AND i.acknowledged_at IS NULL
                RETURNING i.id
                """,
                now,
                after_seconds,
                max_count,
                limit,
            )
            ids = sorted(row["id"] for row in rows)
            for incident_id in ids:
                await conn.execute(
                    "INSERT INTO incident_events (incident_id, kind) VALUES ($1, 'renotified')",
                    incident_id,
                )
                await queue_notice(
                    conn, incident_id=incident_id, kind=AlertEventKind.RENOTIFIED, actor=None
                )
        return ids

    async def _change(
        self, incident_id: int, kind: str, actor: str, statement: str
    ) -> ChangeOutcome:
        async with self._pool.acquire() as conn, conn.transaction():
            group = await conn.fetchrow(
                "SELECT project, service FROM incidents WHERE id = $1", incident_id
            )
            if group is None:
                return ChangeOutcome(None, False)
            # The grouping trigger decides under this lock too: no change interleaves with it.
            await conn.execute(
                "SELECT tracer_incident_lock($1, $2)", group["project"], group["service"]
            )
            changed = (await conn.execute(statement, incident_id, actor)).endswith(" 1")
            if changed:
                await conn.execute(
                    "INSERT INTO incident_events (incident_id, kind, actor) VALUES ($1, $2, $3)",
                    incident_id,
                    kind,
                    actor,
                )
                await queue_notice(conn, incident_id=incident_id, kind=_NOTICE[kind], actor=actor)
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM incidents i WHERE i.id = $1", incident_id
            )
        assert row is not None
        return ChangeOutcome(Incident.model_validate(dict(row)), changed)

    async def console_page(
        self,
        *,
        status: str | None,
        service: str | None,
        severity: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[IncidentListing], int]:
        """One page for the console: open first, then by severity, newest first (the order of
        the index incidents_console_order), each with its first alert's title, its alert
        count and whether a silence holds one of its open alerts now (from the alert store);
        also how many match."""
        filters = """
            ($1::text IS NULL OR i.status = $1)
            AND ($2::text IS NULL OR lower(i.service) = lower($2))
            AND ($3::text IS NULL OR i.severity = $3)
        """
        rows = await self._pool.fetch(
            f"""
            SELECT {_COLUMNS}
            FROM incidents i WHERE {filters}
            ORDER BY (i.status = 'open') DESC,
                     array_position(ARRAY['critical', 'high', 'medium', 'low'], i.severity),
                     i.opened_at DESC, i.id DESC
            LIMIT $4 OFFSET $5
            """,
            status,
            service,
            severity,
            limit,
            offset,
        )
        total = await self._pool.fetchval(
            f"SELECT count(*) FROM incidents i WHERE {filters}", status, service, severity
        )
        extras = await AlertStore(self._pool).incident_overview(
            incident_ids=[r["id"] for r in rows]
        )
        listing = [
            IncidentListing.model_validate({**dict(r), **extras.get(r["id"], _NO_ALERTS)})
            for r in rows
        ]
        return listing, int(total)
