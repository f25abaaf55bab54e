"""The local sink's Jira issues and PagerDuty incidents: issue numbers per project, statuses,
comments, and at most one unresolved incident per dedup key, as the real services keep them
(PagerDuty's REST API refuses a create whose incident key matches an open incident)."""

from __future__ import annotations

from typing import Any

import asyncpg

from tracer_agent.sink.store import SinkError, record_call
from tracer_ai.destinations import jira, pagerduty
from tracer_core.models import Toolkit


class TicketSinkStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # -- Jira ------------------------------------------------------------------------------

    async def jira_create(
        self,
        *,
        project_key: str,
        summary: str,
        labels: list[str],
        arguments: dict[str, Any],
    ) -> dict[str, Any]:
        async with self._pool.acquire() as conn, conn.transaction():
            number = await conn.fetchval(
                """
                INSERT INTO sink_jira_projects AS p (project_key, last_number) VALUES ($1, 1)
                ON CONFLICT (project_key) DO UPDATE SET last_number = p.last_number + 1
                RETURNING last_number
                """,
                project_key,
            )
            key = f"{project_key}-{number}"
            await conn.execute(
                """
                INSERT INTO sink_jira_issues (issue_key, project_key, summary, status, labels)
                VALUES ($1, $2, $3, 'To Do', $4)
                """,
                key,
                project_key,
                summary,
                labels,
            )
            issue_id = str(10000 + int(number))
            data = {
                "id": issue_id,
                "key": key,
                "self": f"https://sink.tracer.local/rest/api/2/issue/{issue_id}",
            }
            await record_call(
                conn,
                tool=jira.CREATE_ISSUE,
                toolkit=Toolkit.JIRA,
                target=project_key,
                external_id=key,
                thread_ref=key,
                arguments=arguments,
                result=data,
            )
            return data

    async def jira_comment(
        self, *, issue_key: str, comment: str, arguments: dict[str, Any]
    ) -> dict[str, Any]:
        async with self._pool.acquire() as conn, conn.transaction():
            project = await conn.fetchval(
                "SELECT project_key FROM sink_jira_issues WHERE issue_key = $1 FOR UPDATE",
                issue_key,
            )
            if project is None:
                raise SinkError(
                    f"Issue does not exist or you do not have permission to see it: {issue_key}"
                )
            comment_id = await conn.fetchval("SELECT nextval('sink_messages_id_seq')")
            data = {"id": str(comment_id), "body": comment, "issue_key": issue_key}
            await record_call(
                conn,
                tool=jira.ADD_COMMENT,
                toolkit=Toolkit.JIRA,
                target=project,
                external_id=str(comment_id),
                thread_ref=issue_key,
                arguments=arguments,
                result=data,
            )
            return data

    async def jira_transition(
        self, *, issue_key: str, status: str, arguments: dict[str, Any]
    ) -> dict[str, Any]:
        async with self._pool.acquire() as conn, conn.transaction():
            project = await conn.fetchval(
                """
                UPDATE sink_jira_issues SET status = $2, updated_at = now()
                WHERE issue_key = $1 RETURNING project_key
                """,
                issue_key,
                status,
            )
            if project is None:
                raise SinkError(
                    f"Issue does not exist or you do not have permission to see it: {issue_key}"
                )
            data = {"issue_key": issue_key, "status": status}
            await record_call(
                conn,
                tool=jira.TRANSITION_ISSUE,
                toolkit=Toolkit.JIRA,
                target=project,
                external_id=f"{issue_key}:{status}",
                thread_ref=issue_key,
                arguments=arguments,
                result=data,
            )
            return data

    async def jira_issues(
        self, *, label: str | None, project_key: str | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            """
            SELECT issue_key, project_key, summary, status, labels FROM sink_jira_issues
            WHERE ($1::text IS NULL OR $1 = ANY(labels))
              AND ($2::text IS NULL OR project_key = $2)
            ORDER BY created_at DESC LIMIT $3
            """,
            label,
            project_key,
            limit,
        )
        return [
            {
                "key": row["issue_key"],
                "fields": {
                    "summary": row["summary"],
                    "status": {"name": row["status"]},
                    "labels": list(row["labels"]),
                    "project": {"key": row["project_key"]},
                },
            }
            for row in rows
        ]

    async def jira_comments(self, *, issue_key: str) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            """
            SELECT result FROM sink_messages
            WHERE toolkit = 'jira' AND tool = $2 AND thread_ref = $1 ORDER BY id
            """,
            issue_key,
            jira.ADD_COMMENT,
        )
        return [row["result"] for row in rows]

    # -- PagerDuty -------------------------------------------------------------------------

    async def pagerduty_trigger(
        self,
        *,
        service_id: str,
        title: str,
        urgency: str,
        dedup_key: str,
        arguments: dict[str, Any],
    ) -> dict[str, Any]:
        """Open an incident; refused, as PagerDuty's REST API does, when an unresolved
        incident has the same key."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"pd:{dedup_key}")
            row = await conn.fetchrow(
                """
                SELECT * FROM sink_pagerduty_incidents
                WHERE dedup_key = $1 AND status <> 'resolved'
                """,
                dedup_key,
            )
            if row is not None:
                raise SinkError(
                    "Incident key conflict: an open incident with matching dedup key "
                    f"already exists on this service ({row['incident_id']})"
                )
            row = await conn.fetchrow(
                """
                    INSERT INTO sink_pagerduty_incidents
                        (incident_id, dedup_key, service, title, urgency, status)
                    VALUES ('P' || upper(substr(md5(random()::text), 1, 6)), $1, $2, $3, $4,
                            'triggered')
                    RETURNING *
                    """,
                dedup_key,
                service_id,
                title,
                urgency,
            )
            assert row is not None
            data = {"incident": _incident(row)}
            await record_call(
                conn,
                tool=pagerduty.CREATE_INCIDENT_RECORD,
                toolkit=Toolkit.PAGERDUTY,
                target=service_id,
                external_id=row["incident_id"],
                thread_ref=dedup_key,
                arguments=arguments,
                result=data,
            )
            return data

    async def pagerduty_incidents(
        self, *, incident_key: str | None, service_ids: list[str], limit: int
    ) -> list[dict[str, Any]]:
        """Incidents newest first, by incident key and services when given."""
        rows = await self._pool.fetch(
            """
            SELECT * FROM sink_pagerduty_incidents
            WHERE ($1::text IS NULL OR dedup_key = $1)
              AND (cardinality($2::text[]) = 0 OR service = ANY($2))
            ORDER BY created_at DESC LIMIT $3
            """,
            incident_key,
            service_ids,
            limit,
        )
        return [_incident(row) for row in rows]

    async def pagerduty_update(
        self,
        *,
        incident_id: str,
        status: str | None,
        urgency: str | None,
        title: str | None,
        arguments: dict[str, Any],
    ) -> dict[str, Any]:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """
                UPDATE sink_pagerduty_incidents
                SET status = coalesce($2, status), urgency = coalesce($3, urgency),
                    title = coalesce($4, title), updated_at = now()
                WHERE incident_id = $1 RETURNING *
                """,
                incident_id,
                status,
                urgency,
                title,
            )
            if row is None:
                raise SinkError(f"Incident Not Found: {incident_id}")
            data = {"incident": _incident(row)}
            await record_call(
                conn,
                tool=pagerduty.UPDATE_INCIDENT_BY_ID,
                toolkit=Toolkit.PAGERDUTY,
                target=row["service"],
                external_id=incident_id,
                thread_ref=row["dedup_key"],
                arguments=arguments,
                result=data,
            )
            return data


def _incident(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["incident_id"],
        "type": "incident",
        "incident_number": row["incident_number"],
        "incident_key": row["dedup_key"],
        "title": row["title"],
        "status": row["status"],
        "urgency": row["urgency"],
        "service": {"id": row["service"], "type": "service_reference"},
        "html_url": f"https://sink.tracer.local/incidents/{row['incident_id']}",
        "created_at": row["created_at"].isoformat(),
    }
