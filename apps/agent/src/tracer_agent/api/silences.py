"""Silences and maintenance windows: matching alerts are stored and visible, not notified."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field, model_validator

from tracer_agent.auth.deps import StaffUser
from tracer_agent.stores.silences import Silence, SilenceStore
from tracer_core.params import RowId

router = APIRouter(prefix="/api", tags=["silences"])


class NewSilence(BaseModel):
    """Every matcher given must match (exactly, or as an anchored regex when `regex`)."""

    project: str | None = Field(default=None, min_length=1, max_length=200)
    service: str | None = Field(default=None, min_length=1, max_length=200)
    alert_type: str | None = Field(default=None, min_length=1, max_length=200)
    severity: str | None = Field(default=None, min_length=1, max_length=200)
    regex: bool = False
    starts_at: datetime | None = None
    ends_at: datetime
    recurrence: Literal["none", "weekly"] = "none"
    comment: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _sensible(self) -> NewSilence:
        if not any((self.project, self.service, self.alert_type, self.severity)):
            raise ValueError("a silence needs at least one matcher")
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def matchers(self) -> list[str]:
        return [m for m in (self.project, self.service, self.alert_type, self.severity) if m]


def _store(request: Request) -> SilenceStore:
    return SilenceStore(request.app.state.pool)


@router.get("/silences")
async def list_silences(
    request: Request, user: StaffUser, expired: Annotated[bool, Query()] = False
) -> list[Silence]:
    """Active and scheduled silences; `?expired=true` lists the ended ones too."""
    return await _store(request).list_silences(include_expired=expired)


@router.post("/silences", status_code=status.HTTP_201_CREATED)
async def create_silence(body: NewSilence, request: Request, user: StaffUser) -> Silence:
    store = _store(request)
    if body.regex:
        for pattern in body.matchers():
            if not await store.is_valid_pattern(pattern):
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_ENTITY, f"{pattern!r} is not a valid regex"
                )
    starts_at = body.starts_at or datetime.now(body.ends_at.tzinfo)
    if body.ends_at <= starts_at:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "ends_at is in the past")
    if body.recurrence == "weekly" and (body.ends_at - starts_at).days >= 7:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY, "a weekly window must last under 7 days"
        )
    return await store.create(
        project=body.project,
        service=body.service,
        alert_type=body.alert_type,
        severity=body.severity,
        regex=body.regex,
        starts_at=starts_at,
        ends_at=body.ends_at,
        recurrence=body.recurrence,
        creator=user.name,
        comment=body.comment,
    )


@router.delete("/silences/{silence_id}")
async def expire_silence(silence_id: RowId, request: Request, user: StaffUser) -> Silence:
    """Ends the silence now; alerts it held back that are still open are notified then."""
    silence = await _store(request).expire(silence_id=silence_id)
    if silence is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"silence {silence_id} does not exist")
    return silence
