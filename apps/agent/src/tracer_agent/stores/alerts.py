"""The `alerts` table (written by the processor) and the events recorded on each alert, as the
agent reads them: the only module of the agent that reads `alerts`, with one column list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from tracer_agent.dbtypes import Db
from tracer_core.models import Alert, AlertEventKind

ALERT_COLUMNS = """
    a.id, a.fingerprint, a.project, a.service, a.alert_type, a.severity, a.status, a.title,
    a.window_start, a.window_end, a.first_seen_at, a.last_seen_at, a.resolved_at,
    a.occurrences, a.reopen_count, a.reporters, a.details
"""


class AlertRow(Alert):
    """An alert with the bookkeeping the API model leaves out."""

    reopen_count: int
    reporters: dict[str, int]

    def overview(self) -> dict[str, Any]:
        """What a list of alerts shows of each one."""
        return {
            "id": self.id,
            "project": self.project,
            "service": self.service,
            "alert_type": self.alert_type.value,
            "severity": self.severity.value,
            "status": self.status.value,
            "title": self.title,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "first_seen_at": self.first_seen_at,
            "last_seen_at": self.last_seen_at,
            "resolved_at": self.resolved_at,
            "occurrences": self.occurrences,
        }


@dataclass(frozen=True, slots=True)
class AlertAtEvent:
    """An alert as it is now, seen through one of its events."""

    alert: AlertRow
    event_kind: AlertEventKind
    event_severity: str
    event_actor: str | None = None
    incident_id: int | None = None


@dataclass(frozen=True, slots=True)
class AlertEventRow:
    kind: str
    severity: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ServiceAlertStats:
    service: str
    open_alerts: int
    alerts_last_24h: int
    alerts_total: int
    last_alert_at: datetime
    alert_types: list[str]
    latest_alert_id: int
    latest_details: dict[str, Any]


def _alert(record: asyncpg.Record) -> AlertRow:
    details = record["details"]
    return AlertRow.model_validate(
        {
            **dict(record),
            "reporters": record["reporters"] or {},
            "details": details if isinstance(details, dict) else {},
        }
    )


class AlertStore:
    """Reads on a pool, or on a connection inside a caller's transaction."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def exists(self, *, alert_id: int) -> bool:
        return await self._db.fetchval("SELECT 1 FROM alerts WHERE id = $1", alert_id) is not None

    async def existing_ids(self, *, alert_ids: list[int]) -> list[int]:
        """Those of `alert_ids` that name an alert, ascending."""
        records = await self._db.fetch(
            "SELECT id FROM alerts WHERE id = ANY($1::bigint[]) ORDER BY id", sorted(alert_ids)
        )
        return [record["id"] for record in records]

    async def get(self, *, alert_id: int) -> AlertRow | None:
        record = await self._db.fetchrow(
            f"SELECT {ALERT_COLUMNS} FROM alerts a WHERE a.id = $1", alert_id
        )
        return None if record is None else _alert(record)

    async def get_many(self, *, alert_ids: list[int]) -> dict[int, AlertRow]:
        records = await self._db.fetch(
            f"SELECT {ALERT_COLUMNS} FROM alerts a WHERE a.id = ANY($1::bigint[])", alert_ids
        )
        return {record["id"]: _alert(record) for record in records}

    async def recent(
        self, *, status: str | None, service: str | None, limit: int
    ) -> list[AlertRow]:
        """Most recently seen first; `status` and `service` (any case) narrow when given."""
        records = await self._db.fetch(
            f"""
            SELECT {ALERT_COLUMNS} FROM alerts a
            WHERE ($1::text IS NULL OR a.status = $1)
              AND ($2::text IS NULL OR lower(a.service) = lower($2))
            ORDER BY a.last_seen_at DESC LIMIT $3
            """,
            status,
            service,
            limit,
        )
        return [_alert(record) for record in records]

    async def search(self, *, words: list[str], limit: int) -> list[AlertRow]:
        """Alerts whose service, title, type, project or details contain any of `words`
        (lower case); open ones first."""
        records = await self._db.fetch(
            f"""
            SELECT {ALERT_COLUMNS} FROM alerts a
            WHERE (SELECT bool_or(
                       strpos(lower(a.service || ' ' || a.title || ' ' || a.alert_type || ' '
                                    || a.project || ' ' || a.details::text), w) > 0)
                   FROM unnest($1::text[]) AS w)
            ORDER BY (a.status = 'open') DESC, a.last_seen_at DESC LIMIT $2
            """,
            words,
            limit,
        )
        return [_alert(record) for record in records]

    async def at_event(self, *, event_id: int) -> AlertAtEvent | None:
        record = await self._db.fetchrow(
            f"""
            SELECT {ALERT_COLUMNS}, e.kind AS event_kind, e.severity AS event_severity,
                   e.actor AS event_actor, a.incident_id AS event_incident_id
            FROM alert_events e JOIN alerts a ON a.id = e.alert_id WHERE e.id = $1
            """,
            event_id,
        )
        if record is None:
            return None
        return AlertAtEvent(
            alert=_alert(record),
            event_kind=AlertEventKind(record["event_kind"]),
            event_severity=record["event_severity"],
            event_actor=record["event_actor"],
            incident_id=record["event_incident_id"],
        )

    async def first_of_incident(self, *, incident_id: int) -> int | None:
        """The incident's first alert, which carries the incident's notices."""
        value: int | None = await self._db.fetchval(
            "SELECT id FROM alerts WHERE incident_id = $1 ORDER BY id LIMIT 1", incident_id
        )
        return value

    async def events(self, *, alert_id: int) -> list[AlertEventRow]:
        records = await self._db.fetch(
            "SELECT kind, severity, created_at FROM alert_events WHERE alert_id = $1 ORDER BY id",
            alert_id,
        )
        return [
            AlertEventRow(kind=r["kind"], severity=r["severity"], created_at=r["created_at"])
            for r in records
        ]

    async def service_stats(self, *, service: str | None, limit: int) -> list[ServiceAlertStats]:
        """Per service: alert counts, types and the latest alert; busiest first."""
        records = await self._db.fetch(
            """
            SELECT a.service,
                   count(*) FILTER (WHERE a.status = 'open') AS open_alerts,
                   count(*) FILTER (WHERE a.first_seen_at > now() - interval '24 hours')
                       AS alerts_last_24h,
                   count(*) AS alerts_total,
                   max(a.last_seen_at) AS last_alert_at,
                   array_agg(DISTINCT a.alert_type) AS alert_types,
                   (array_agg(a.id ORDER BY a.last_seen_at DESC))[1] AS latest_alert_id,
                   (array_agg(a.details ORDER BY a.last_seen_at DESC))[1] AS latest_details
            FROM alerts a
            WHERE $1::text IS NULL OR lower(a.service) = lower($1)
            GROUP BY a.service ORDER BY open_alerts DESC, last_alert_at DESC LIMIT $2
            """,
            service,
            limit,
        )
        return [
            ServiceAlertStats(
                service=r["service"],
                open_alerts=r["open_alerts"],
                alerts_last_24h=r["alerts_last_24h"],
                alerts_total=r["alerts_total"],
                last_alert_at=r["last_alert_at"],
                alert_types=list(r["alert_types"]),
                latest_alert_id=r["latest_alert_id"],
                latest_details=r["latest_details"] or {},
            )
            for r in records
        ]

    # -- incidents and notification holds ----------------------------------------------------

    async def for_incident(self, *, incident_id: int) -> list[asyncpg.Record]:
        """The incident's alerts, oldest first, each with the silence that holds it now."""
        return await self._db.fetch(
            """
            SELECT a.id, a.alert_type, a.severity, a.status, a.title, a.first_seen_at,
                   a.resolved_at,
                   tracer_silence_for(a.project, a.service, a.alert_type, a.severity, now())
                       AS silenced_by
            FROM alerts a WHERE a.incident_id = $1 ORDER BY a.id
            """,
            incident_id,
        )

    async def quiet_context(self, *, alert_id: int, severity: str) -> asyncpg.Record | None:
        """What decides where an event of the alert goes: the silence matching it now, whether
        its incident was resolved by hand, the incident, its status and the alert whose
        resolution closed it, and the other open alerts of its service as
        `alert_type:severity` strings."""
        return await self._db.fetchrow(
            """
            SELECT tracer_silence_for(a.project, a.service, a.alert_type, $2, now()) AS silence,
                   coalesce(i.resolved_by IS NOT NULL AND i.status = 'resolved', false)
                       AS resolved_by_hand,
                   a.incident_id, i.status AS incident_status,
                   (SELECT ie.alert_id FROM incident_events ie
                    WHERE ie.incident_id = a.incident_id AND ie.kind = 'resolved'
                    ORDER BY ie.id DESC LIMIT 1) AS closed_by_alert,
                   ARRAY(SELECT o.alert_type || ':' || o.severity FROM alerts o
                         WHERE o.project = a.project AND o.service = a.service
                           AND o.status = 'open' AND o.id <> a.id) AS others
            FROM alerts a LEFT JOIN incidents i ON i.id = a.incident_id
            WHERE a.id = $1
            """,
            alert_id,
            severity,
        )

    async def held_events(self, *, limit: int) -> list[asyncpg.Record]:
        """Events held back by a silence, locked for the caller's transaction, with whether
        their alert is still open and the silence that holds it now (NULL once none does)."""
        return await self._db.fetch(
            """
            SELECT e.id, e.alert_id, e.kind, e.severity, a.status AS alert_status,
                   tracer_silence_for(a.project, a.service, a.alert_type, a.severity, now())
                       AS silence
            FROM alert_events e JOIN alerts a ON a.id = e.alert_id
            WHERE e.held_by_silence IS NOT NULL
            ORDER BY e.id LIMIT $1
            FOR UPDATE OF e SKIP LOCKED
            """,
            limit,
        )

    async def incident_of(self, *, alert_id: int) -> int | None:
        """The incident the alert belongs to (links from chat answers, which cite alerts)."""
        value = await self._db.fetchval("SELECT incident_id FROM alerts WHERE id = $1", alert_id)
        return None if value is None else int(value)

    async def incident_overview(self, *, incident_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Per incident: its first alert's title, how many alerts it has, and whether a
        silence holds one of its open alerts now."""
        records = await self._db.fetch(
            """
            SELECT a.incident_id, (array_agg(a.title ORDER BY a.id))[1] AS title,
                   count(*) AS alert_count,
                   bool_or(a.status = 'open' AND tracer_silence_for(
                       a.project, a.service, a.alert_type, a.severity, now()) IS NOT NULL)
                       AS silenced
            FROM alerts a WHERE a.incident_id = ANY($1::bigint[]) GROUP BY a.incident_id
            """,
            incident_ids,
        )
        return {
            r["incident_id"]: {
                "title": r["title"],
                "alert_count": r["alert_count"],
                "silenced": bool(r["silenced"]),
            }
            for r in records
        }
