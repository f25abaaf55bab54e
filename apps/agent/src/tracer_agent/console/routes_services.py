"""Services: sparklines of the last hours for every service, and one service's 24 hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from tracer_agent.console.rendering import render
from tracer_agent.console.session import ConsoleUser, current_user
from tracer_agent.console.views import service_charts, service_lines
from tracer_agent.stores.alerts import AlertStore
from tracer_agent.stores.incidents import IncidentStore
from tracer_agent.stores.rollups import RollupStore

router = APIRouter(include_in_schema=False)
SPARK_HOURS = 3
MAX_SERVICES = 200

Viewer = Annotated[ConsoleUser, Depends(current_user)]


@router.get("/services", response_class=HTMLResponse)
async def services(request: Request, user: Viewer) -> Response:
    pool = request.app.state.pool
    since = datetime.now(UTC) - timedelta(hours=SPARK_HOURS)
    series = await RollupStore(pool).all_services(since=since, limit=MAX_SERVICES)
    stats = await AlertStore(pool).service_stats(service=None, limit=MAX_SERVICES)
    lines = service_lines(series, {s.service: s.open_alerts for s in stats})
    return render(request, "services.html", user, lines=lines, hours=SPARK_HOURS)


@router.get("/services/{service}", response_class=HTMLResponse)
async def service(
    request: Request, service: str, user: Viewer, project: str | None = None
) -> Response:
    pool = request.app.state.pool
    end = datetime.now(UTC)
    start = end - timedelta(hours=24)
    points = await RollupStore(pool).series(
        service=service, project=project, since=start, until=end
    )
    incidents, total = await IncidentStore(pool).console_page(
        status=None, service=service, severity=None, limit=50, offset=0
    )
    return render(
        request,
        "service.html",
        user,
        service=service,
        charts=service_charts(points, service, start, end),
        last=points[-1] if points else None,
        incidents=incidents,
        total=total,
    )
