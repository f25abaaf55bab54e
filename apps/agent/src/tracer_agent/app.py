"""The agent's ASGI app: the HTTP API, the local MCP sink at /sink/mcp, and the lifespan that
owns the database pool, the LLM client, the tool router and the delivery worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from urllib.parse import urlsplit

import httpx2
from fastapi import FastAPI
from mcp.server.transport_security import TransportSecuritySettings
from prometheus_client import CollectorRegistry
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tracer_agent.api import chat, connections, deliveries, incidents, keys, silences, sink
from tracer_agent.console.mount import mount_console
from tracer_agent.routing import load_rules
from tracer_agent.schema_readiness import hold_readiness_until_schemas_fit
from tracer_agent.services import AgentServices, build_services
from tracer_agent.settings import AgentSettings
from tracer_agent.sink.guard import refuse_sink_caller
from tracer_agent.sink.token import configured_sink_token
from tracer_core.auth_limit import FailedAuthLimiter
from tracer_core.clock import Clock
from tracer_core.db import create_pool
from tracer_core.health import health_routes
from tracer_core.http_errors import install_error_handlers
from tracer_core.http_guard import RequestGuard

log = logging.getLogger(__name__)


def sink_allowed_hosts(settings: AgentSettings) -> TransportSecuritySettings:
    """Loopback callers plus the agent's own public name: local MCP clients work, a page on
    another origin cannot reach the sink through DNS rebinding."""
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    for url in (settings.public_url, settings.sink_url):
        if url:
            parts = urlsplit(url)
            if parts.hostname:
                hosts += [parts.netloc, f"{parts.hostname}:*"]
                origins.append(f"{parts.scheme}://{parts.netloc}")
    if settings.host not in ("0.0.0.0", "::", "127.0.0.1", "localhost", ""):
        hosts.append(f"{settings.host}:*")
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


class _SinkEndpoint:
    """Forwards authorised /sink/mcp requests to the MCP session manager the lifespan
    started (see `refuse_sink_caller` for who is authorised)."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services: AgentServices | None = getattr(self._app.state, "services", None)
        if services is None:
            await JSONResponse({"detail": "the sink is starting"}, status_code=503)(
                scope, receive, send
            )
            return
        refusal = await refuse_sink_caller(Request(scope), services.sink_token)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await services.sink_server.session_manager.asgi_app(scope, receive, send)


def create_app(
    settings: AgentSettings,
    *,
    llm_http_client: httpx2.AsyncClient | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """`llm_http_client` lets tests fake the LLM server at the transport; `clock` drives the
    failed-authentication windows."""
    if not settings.database_url:
        raise ValueError("create_app needs a resolved database_url")
    database_url = settings.database_url
    rules = load_rules(settings.routing_file)  # a bad rules file stops startup, not delivery
    configured_sink_token(settings.sink_token)  # a weak TRACER_SINK_TOKEN stops startup too
    registry = CollectorRegistry()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.pool = await create_pool(
                database_url,
                min_size=settings.db_pool_min_size,
                max_size=settings.db_pool_max_size,
                application_name="tracer-agent",
            )
            stack.push_async_callback(app.state.pool.close)
            services = await build_services(
                settings,
                app.state.pool,
                rules,
                registry,
                llm_http_client=llm_http_client,
                clock=clock,
            )
            stack.push_async_callback(services.aclose)
            services.sink_server.streamable_http_app(
                streamable_http_path="/sink/mcp",
                stateless_http=True,
                json_response=True,
                transport_security=sink_allowed_hosts(settings),
            )
            await stack.enter_async_context(services.sink_server.session_manager.run())
            app.state.services = services
            schema_task: asyncio.Task[None] | None = None
            if services.uses_composio:
                schema_task = asyncio.create_task(
                    hold_readiness_until_schemas_fit(
                        app.state, services.toolboxes, rules, settings.routing_user_id
                    ),
                    name="schema-check",
                )
            worker_task: asyncio.Task[None] | None = None
            if services.worker is not None:
                app.state.worker = services.worker
                worker_task = asyncio.create_task(services.worker.run(), name="delivery-worker")
            try:
                yield
            finally:
                for task in (worker_task, schema_task):
                    if task is not None:
                        task.cancel()
                        await asyncio.gather(task, return_exceptions=True)
                app.state.services = None

    app = FastAPI(title="Tracer agent", lifespan=lifespan)
    app.router.routes.extend(health_routes(registry))
    endpoint = _SinkEndpoint(app)
    app.router.routes.append(
        Route("/sink/mcp", endpoint=endpoint, methods=["GET", "POST", "DELETE"])
    )
    app.router.routes.append(
        Route("/sink/mcp/", endpoint=endpoint, methods=["GET", "POST", "DELETE"])
    )
    for router in (
        deliveries.router,
        sink.router,
        connections.router,
        chat.router,
        incidents.router,
        silences.router,
        keys.router,
    ):
        app.include_router(router)
    install_error_handlers(app)
    # Outermost (after the error middleware): the limit holds before routing, parsing and auth.
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)
    app.state.auth_limiter = FailedAuthLimiter(
        max_failures=settings.auth_max_failures,
        window_seconds=settings.auth_failure_window_seconds,
        clock=clock,
    )
    mount_console(app)
    app.state.settings = settings
    app.state.registry = registry
    app.state.rules = rules
    return app
