"""Connecting Slack, Jira, PagerDuty and Gmail through the tool router.

An admin connects each app once for the org routing user (scope `org`): alerts are posted
with those connections. Engineers may connect their own apps (scope `user`) for chat, so
"open a Jira ticket for this" acts as them. POST answers with the OAuth `redirect_url` to
open in a browser; the provider sends the browser back to the callback page, and the status
moves from INITIATED to ACTIVE as the tool router reports it (it is re-read on every list).
"""

from __future__ import annotations

import html
import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

from tracer_agent.auth.deps import StaffUser
from tracer_agent.auth.keys import Principal
from tracer_agent.services import AgentServices
from tracer_agent.stores.connections import ConnectionStore, StoredConnection
from tracer_ai.destinations import tool_router_toolkits
from tracer_ai.errors import ToolRouterError, ToolRouterNotFound
from tracer_core.models import ConnectionScope, ConnectionStatus, Role, Toolkit

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/connections", tags=["connections"])


class ConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    toolkit: Toolkit
    scope: ConnectionScope = ConnectionScope.USER


class ConnectionOut(BaseModel):
    id: str
    toolkit: Toolkit
    scope: ConnectionScope
    status: ConnectionStatus
    user_id: str


class NewConnectionOut(ConnectionOut):
    redirect_url: str | None


def _services(request: Request) -> AgentServices:
    services: AgentServices = request.app.state.services
    return services


def _out(connection: StoredConnection) -> ConnectionOut:
    return ConnectionOut(
        id=connection.id,
        toolkit=connection.toolkit,
        scope=connection.scope,
        status=connection.status,
        user_id=connection.user_id,
    )


def _router_failure(exc: ToolRouterError) -> HTTPException:
    code = status.HTTP_503_SERVICE_UNAVAILABLE if exc.retryable else status.HTTP_502_BAD_GATEWAY
    return HTTPException(code, f"the tool router refused: {exc}")


async def _refresh(services: AgentServices, connection: StoredConnection) -> StoredConnection:
    """Ask the tool router for a pending connection's status and keep what it says."""
    if connection.status is not ConnectionStatus.INITIATED:
        return connection
    try:
        current = await services.router.connection_status(connection.id)
    except ToolRouterNotFound:
        current = ConnectionStatus.FAILED
    except ToolRouterError as exc:
        log.warning("cannot refresh connection %s: %s", connection.id, exc)
        return connection
    if current is connection.status:
        return connection
    updated = await ConnectionStore(services.pool).set_status(
        connection_id=connection.id, status=current
    )
    return updated or connection


@router.get("")
async def list_connections(request: Request, user: StaffUser) -> list[ConnectionOut]:
    """The org's connections and the caller's own."""
    services = _services(request)
    store = ConnectionStore(services.pool)
    found = await store.visible_to(user_ids=[services.settings.routing_user_id, user.user_id])
    return [_out(await _refresh(services, c)) for c in found]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_connection(
    body: ConnectionIn, request: Request, user: StaffUser
) -> NewConnectionOut:
    services = _services(request)
    if body.toolkit.value not in tool_router_toolkits():  # plain HTTP, e.g. webhooks
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{body.toolkit.value} needs no connection: it is configured in the routing file",
        )
    if body.scope is ConnectionScope.ORG and user.role is not Role.ADMIN:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "only an admin key may connect apps for the organisation"
        )
    owner = services.settings.routing_user_id if body.scope is ConnectionScope.ORG else user.user_id
    store = ConnectionStore(services.pool)
    existing = await store.active_for(user_id=owner, toolkit=body.toolkit)
    if existing is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"{body.toolkit.value} is already connected ({existing.id}); delete that "
            "connection first to connect another account",
        )
    callback = f"{services.settings.agent_url}/api/connections/callback"
    try:
        started = await services.router.authorize(owner, body.toolkit.value, callback_url=callback)
    except ToolRouterError as exc:
        raise _router_failure(exc) from None
    stored = await store.add(
        connection_id=started.id,
        user_id=owner,
        toolkit=body.toolkit,
        scope=body.scope,
        status=started.status,
        redirect_url=started.redirect_url,
        created_by=user.name,
    )
    log.info(
        "%s started connecting %s (%s) as %s", user.prefix, body.toolkit.value, stored.id, owner
    )
    return NewConnectionOut(**_out(stored).model_dump(), redirect_url=started.redirect_url)


def _may_delete(user: Principal, connection: StoredConnection) -> bool:
    return user.role is Role.ADMIN or connection.user_id == user.user_id


@router.delete("/{connection_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_connection(
    connection_id: Annotated[str, Path(min_length=1, max_length=200)],
    request: Request,
    user: StaffUser,
) -> Response:
    services = _services(request)
    store = ConnectionStore(services.pool)
    connection = await store.get(connection_id=connection_id)
    if connection is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"connection {connection_id} does not exist")
    if not _may_delete(user, connection):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "you may delete only your own connections")
    try:
        await services.router.disconnect(connection_id)
    except ToolRouterError as exc:
        raise _router_failure(exc) from None
    services.router.invalidate(connection.user_id)
    await services.toolboxes.reset(connection.user_id)
    await store.delete(connection_id=connection_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/callback", response_class=HTMLResponse, include_in_schema=False)
async def oauth_callback(
    request: Request,
    connection_id: Annotated[str | None, Query(max_length=200)] = None,
    connected_account_id: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """Where the provider sends the browser back. The status shown is the tool router's, not
    whatever the query string claims."""
    services = _services(request)
    wanted = connection_id or connected_account_id
    connection = await ConnectionStore(services.pool).get(connection_id=wanted) if wanted else None
    if connection is None:
        return _page("Unknown connection", "Tracer does not know this connection.", 404)
    connection = await _refresh(services, connection)
    app = connection.toolkit.value.capitalize()
    if connection.status is ConnectionStatus.ACTIVE:
        return _page(f"{app} connected", f"{app} is connected. You can close this tab.", 200)
    if connection.status is ConnectionStatus.INITIATED:
        return _page(f"{app} pending", f"{app} is not connected yet; reload in a moment.", 202)
    return _page(f"{app} not connected", f"The connection is {connection.status.value}.", 400)


def _page(title: str, message: str, code: int) -> HTMLResponse:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)} · Tracer</title></head>"
        "<body style='font-family:sans-serif;max-width:32em;margin:4em auto'>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    return HTMLResponse(body, status_code=code)
