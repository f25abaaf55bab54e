"""The incidents list (open first, by severity; refreshed in place every few seconds) and the
incident page with its timeline, chart, error templates, summary and actions (acknowledge,
resolve, silence like this, retry a dead delivery)."""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tracer_agent.api.incidents import acknowledge, resolve, unacknowledge
from tracer_agent.console.rendering import render
from tracer_agent.console.session import ConsoleUser, admin_form_user, current_user, form_user
from tracer_agent.console.views import incident_view
from tracer_agent.stores.alerts import AlertStore
from tracer_agent.stores.deliveries import DeliveryRecords
from tracer_agent.stores.incidents import IncidentStore

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
REFRESH_SECONDS = 5
STATUSES = ("open", "resolved")
SEVERITIES = ("critical", "high", "medium", "low")

Viewer = Annotated[ConsoleUser, Depends(current_user)]


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


async def list_context(
    request: Request,
    status: str | None = None,
    service: str | None = None,
    severity: str | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> dict[str, Any]:
    """What the list and its polled rows show, from the query string (a dependency)."""
    filters = {
        "status": _choice(status, STATUSES),
        "service": (service or "").strip() or None,
        "severity": _choice(severity, SEVERITIES),
    }
    rows, total = await IncidentStore(request.app.state.pool).console_page(
        **filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    return {
        "incidents": rows,
        "total": total,
        "page": page,
        "pages": max(math.ceil(total / PAGE_SIZE), 1),
        "filters": filters,
        "query": urlencode({k: v for k, v in filters.items() if v}),
        "refresh_seconds": REFRESH_SECONDS,
        "statuses": STATUSES,
        "severities": SEVERITIES,
    }


ListContext = Annotated[dict[str, Any], Depends(list_context)]


@router.get("/", response_class=HTMLResponse)
async def incidents(request: Request, user: Viewer, context: ListContext) -> Response:
    return render(request, "incidents.html", user, **context)


@router.get("/incidents/rows", response_class=HTMLResponse)
async def incident_rows(request: Request, user: Viewer, context: ListContext) -> Response:
    """The list's table alone: what the page polls for."""
    return render(request, "_incident_rows.html", user, **context)


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
async def incident(request: Request, incident_id: int, user: Viewer) -> Response:
    view = await incident_view(request.app.state.pool, incident_id)
    if view is None:
        return render(
            request, "error.html", user, status_code=404,
            message=f"Incident {incident_id} does not exist.",
        )  # fmt: skip
    return render(request, "incident.html", user, view=view)


ACTIONS = {"ack": acknowledge, "unack": unacknowledge, "resolve": resolve}
Editor = Annotated[ConsoleUser, Depends(form_user)]


@router.post("/incidents/{incident_id}/{action}")
async def change_incident(
    request: Request, incident_id: int, action: str, user: Editor
) -> Response:
    """Acknowledge, unacknowledge or resolve: the API's own endpoint functions, so the
    change is recorded and mirrored in the destination threads exactly as from the API."""
    run = ACTIONS.get(action)
    if run is None:
        return render(request, "error.html", user, status_code=404, message="No such action.")
    try:
        await run(incident_id, request, user.principal)
    except HTTPException as exc:
        return render(request, "error.html", user, status_code=exc.status_code,
                      message=str(exc.detail))  # fmt: skip
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)


@router.get("/alerts/{alert_id}")
async def alert(request: Request, alert_id: int, user: Viewer) -> Response:
    """Chat answers cite alerts: send the browser to the alert's incident."""
    incident_id = await AlertStore(request.app.state.pool).incident_of(alert_id=alert_id)
    if incident_id is None:
        return render(request, "error.html", user, status_code=404,
                      message=f"Alert {alert_id} belongs to no incident.")  # fmt: skip
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)


@router.post("/incidents/{incident_id}/deliveries/{delivery_id}/retry")
async def retry_delivery(
    request: Request,
    incident_id: int,
    delivery_id: int,
    user: Annotated[ConsoleUser, Depends(admin_form_user)],
) -> Response:
    """Send a dead or failed delivery again (the same store call as the API's retry)."""
    record = await DeliveryRecords(request.app.state.pool).retry(delivery_id=delivery_id)
    worker = getattr(request.app.state, "worker", None)
    if record is not None and worker is not None:
        worker.wake()
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)
