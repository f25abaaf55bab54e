"""Silences and maintenance windows: list, create (also "silence like this" from an incident),
expire. Each action calls the API's endpoint function, so the rules are the API's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from tracer_agent.api.silences import NewSilence, create_silence, expire_silence, list_silences
from tracer_agent.console.rendering import render
from tracer_agent.console.session import ConsoleUser, current_user, form_user

router = APIRouter(include_in_schema=False)
DURATIONS = {"30 minutes": 30, "1 hour": 60, "4 hours": 240, "1 day": 1440, "1 week": 10080}

Viewer = Annotated[ConsoleUser, Depends(current_user)]
Editor = Annotated[ConsoleUser, Depends(form_user)]


async def _page(
    request: Request,
    user: ConsoleUser,
    *,
    prefill: dict[str, str] | None = None,
    error: str | None = None,
    code: int = 200,
) -> Response:
    silences = await list_silences(request, user.principal, expired=False)
    return render(
        request, "silences.html", user, status_code=code, silences=silences,
        prefill=prefill or {}, durations=DURATIONS, error=error,
    )  # fmt: skip


@router.get("/silences", response_class=HTMLResponse)
async def silences(
    request: Request,
    user: Viewer,
    project: str = "",
    service: str = "",
    alert_type: str = "",
    severity: str = "",
) -> Response:
    """The list, and the form (prefilled when coming from an incident's "silence like this")."""
    prefill = {"project": project, "service": service, "alert_type": alert_type,
               "severity": severity}  # fmt: skip
    return await _page(request, user, prefill=prefill)


@router.post("/silences")
async def create(
    request: Request,
    user: Editor,
    duration_minutes: Annotated[int, Form(ge=1, le=60 * 24 * 31)],
    project: Annotated[str, Form(max_length=200)] = "",
    service: Annotated[str, Form(max_length=200)] = "",
    alert_type: Annotated[str, Form(max_length=200)] = "",
    severity: Annotated[str, Form(max_length=200)] = "",
    recurrence: Annotated[Literal["none", "weekly"], Form()] = "none",
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    fields = {"project": project, "service": service, "alert_type": alert_type,
              "severity": severity}  # fmt: skip
    try:
        body = NewSilence(
            **{k: v.strip() or None for k, v in fields.items()},
            ends_at=datetime.now(UTC) + timedelta(minutes=duration_minutes),
            recurrence=recurrence,
            comment=comment,
        )
        await create_silence(body, request, user.principal)
    except ValidationError as exc:
        message = "; ".join(str(e["msg"]) for e in exc.errors())
        return await _page(request, user, prefill=fields, error=message, code=422)
    except HTTPException as exc:
        return await _page(request, user, prefill=fields, error=str(exc.detail), code=422)
    return RedirectResponse("/silences", status_code=303)


@router.post("/silences/{silence_id}/expire")
async def expire(request: Request, silence_id: int, user: Editor) -> Response:
    try:
        await expire_silence(silence_id, request, user.principal)
    except HTTPException as exc:
        return await _page(request, user, error=str(exc.detail), code=exc.status_code)
    return RedirectResponse("/silences", status_code=303)
