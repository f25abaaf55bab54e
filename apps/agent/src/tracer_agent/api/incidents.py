"""Incidents: list them, read one with its alerts, timeline and deliveries, and acknowledge,
unacknowledge or resolve one by hand (engineers and admins; who and when is recorded)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status

from tracer_agent.auth.deps import StaffUser
from tracer_agent.stores.incidents import ChangeOutcome, Incident, IncidentDetail, IncidentStore
from tracer_core.params import RowId

router = APIRouter(prefix="/api", tags=["incidents"])


def _store(request: Request) -> IncidentStore:
    return IncidentStore(request.app.state.pool)


@router.get("/incidents")
async def list_incidents(
    request: Request,
    user: StaffUser,
    status_filter: Annotated[Literal["open", "resolved"] | None, Query(alias="status")] = None,
    service: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Incident]:
    """Newest first; `since` keeps incidents that were open at or after that time."""
    return await _store(request).list_incidents(
        status=status_filter, service=service, since=since, limit=limit
    )


@router.get("/incidents/{incident_id}")
async def get_incident(incident_id: RowId, request: Request, user: StaffUser) -> IncidentDetail:
    detail = await _store(request).get(incident_id=incident_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"incident {incident_id} does not exist")
    return detail


def _answer(incident_id: int, outcome: ChangeOutcome) -> Incident:
    if outcome.incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"incident {incident_id} does not exist")
    return outcome.incident


@router.post("/incidents/{incident_id}/ack")
async def acknowledge(incident_id: RowId, request: Request, user: StaffUser) -> Incident:
    """Idempotent: acknowledging an acknowledged incident keeps the first acknowledgement."""
    return _answer(
        incident_id, await _store(request).acknowledge(incident_id=incident_id, actor=user.name)
    )


@router.post("/incidents/{incident_id}/unack")
async def unacknowledge(incident_id: RowId, request: Request, user: StaffUser) -> Incident:
    return _answer(
        incident_id, await _store(request).unacknowledge(incident_id=incident_id, actor=user.name)
    )


@router.post("/incidents/{incident_id}/resolve")
async def resolve(incident_id: RowId, request: Request, user: StaffUser) -> Incident:
    """Resolved by hand; if the service is still anomalous it reopens as a new incident only
    after it has been healthy once."""
    return _answer(
        incident_id, await _store(request).resolve(incident_id=incident_id, actor=user.name)
    )
