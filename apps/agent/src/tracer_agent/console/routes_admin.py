"""Admin pages: connections (start the OAuth flow, see its status), the routing rules in
effect and whether the file still validates, API keys (create, revoke), LLM usage and cost.
Actions call the same functions as the API."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tracer_agent.api.connections import ConnectionIn, create_connection, list_connections
from tracer_agent.api.keys import KeyRequest, delete_key, list_keys
from tracer_agent.api.keys import new_key as create_key_for
from tracer_agent.console.rendering import render
from tracer_agent.console.session import ConsoleUser, admin_form_user, admin_user
from tracer_agent.routing import RoutingRules, load_rules
from tracer_agent.stores.llm_usage import LlmUsageStore
from tracer_core.models import ConnectionScope, Role, Toolkit
from tracer_core.settings import SettingsError

router = APIRouter(prefix="/admin", include_in_schema=False)
USAGE_DAYS = 30

Admin = Annotated[ConsoleUser, Depends(admin_user)]
AdminForm = Annotated[ConsoleUser, Depends(admin_form_user)]


def _rules_check(request: Request) -> tuple[RoutingRules, str | None]:
    """The rules this agent runs with, and what is wrong with the file on disk now (None when
    it validates: a file edited since start must be checked before a restart)."""
    rules: RoutingRules = request.app.state.rules
    try:
        load_rules(request.app.state.settings.routing_file)
    except (SettingsError, ValueError) as exc:
        return rules, str(exc)
    return rules, None


async def _page(
    request: Request, user: ConsoleUser, *, new_key: str | None = None, error: str | None = None
) -> Response:
    pool = request.app.state.pool
    rules, rules_error = _rules_check(request)
    connections = await list_connections(request, user.principal)
    return render(
        request,
        "admin.html",
        user,
        keys=await list_keys(request, user.principal),
        usage=await LlmUsageStore(pool).totals(days=USAGE_DAYS),
        usage_days=USAGE_DAYS,
        rules=rules,
        rules_error=rules_error,
        connections=connections,
        toolkits=list(Toolkit),
        roles=[r.value for r in Role],
        new_key=new_key,
        error=error,
    )


@router.get("", response_class=HTMLResponse)
async def admin(request: Request, user: Admin) -> Response:
    return await _page(request, user)


@router.post("/keys")
async def new_key(
    request: Request,
    user: AdminForm,
    role: Annotated[Role, Form()],
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The new key is shown once, on this answer only."""
    created = await create_key_for(
        KeyRequest(role=role, name=name.strip() or None), request, user.principal
    )
    return await _page(request, user, new_key=created.key)


@router.post("/keys/{prefix}/revoke")
async def revoke(request: Request, prefix: str, user: AdminForm) -> Response:
    with contextlib.suppress(HTTPException):  # already revoked: the list shows it
        await delete_key(prefix, request, user.principal)
    return RedirectResponse("/admin#keys", status_code=303)


@router.post("/connections")
async def connect(
    request: Request, user: AdminForm, toolkit: Annotated[Toolkit, Form()]
) -> Response:
    """Start connecting an app for the organisation and send the browser to its OAuth page."""
    try:
        started = await create_connection(
            ConnectionIn(toolkit=toolkit, scope=ConnectionScope.ORG), request, user.principal
        )
    except HTTPException as exc:
        return await _page(request, user, error=str(exc.detail))
    if started.redirect_url:
        return RedirectResponse(started.redirect_url, status_code=303)
    return RedirectResponse("/admin#connections", status_code=303)
