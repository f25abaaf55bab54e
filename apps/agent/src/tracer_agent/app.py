"""The agent's ASGI app: routes and the lifespan that owns the database pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from tracer_agent.settings import AgentSettings
from tracer_core.db import create_pool
from tracer_core.health import health_routes


def create_app(settings: AgentSettings) -> FastAPI:
    if not settings.database_url:
        raise ValueError("create_app needs a resolved database_url")
    database_url = settings.database_url
    registry = CollectorRegistry()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await create_pool(
            database_url,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            application_name="tracer-agent",
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(title="Tracer agent", lifespan=lifespan)
    app.router.routes.extend(health_routes(registry))
    app.state.settings = settings
    app.state.registry = registry
    return app
