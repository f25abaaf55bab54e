"""Templates, static files and the console's error pages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.staticfiles import StaticFiles

from tracer_agent.console.session import ConsoleUser, ForbiddenError, NotSignedInError

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
static_files = StaticFiles(directory=HERE / "static")


def age(moment: datetime | None, now: datetime | None = None) -> str:
    """ "3 min", "2 h", "5 d": how long ago, for lists."""
    if moment is None:
        return ""
    seconds = max(((now or datetime.now(UTC)) - moment).total_seconds(), 0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


templates.env.filters["age"] = age
templates.env.filters["percent"] = percent


def render(
    request: Request,
    name: str,
    user: ConsoleUser | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"user": user, **context}, status_code=status_code
    )


async def not_signed_in(request: Request, exc: Exception) -> Response:
    target = f"/login?next={request.url.path}"
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    if request.method != "GET":
        return render(
            request, "error.html", None, status_code=401, message="You are not signed in."
        )
    return RedirectResponse(target, status_code=303)


async def forbidden(request: Request, exc: Exception) -> Response:
    return render(request, "error.html", None, status_code=403, message=str(exc))


EXCEPTION_HANDLERS = {NotSignedInError: not_signed_in, ForbiddenError: forbidden}
