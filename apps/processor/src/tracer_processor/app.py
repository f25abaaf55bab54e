"""The processor's ASGI app: routes and the lifespan that owns the database pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from tracer_core.db import create_pool
from tracer_core.health import health_routes
from tracer_processor.settings import ProcessorSettings


def create_app(settings: ProcessorSettings) -> Starlette:
    if not settings.database_url:
        raise ValueError("create_app needs a resolved database_url")
    database_url = settings.database_url
    registry = CollectorRegistry()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.pool = await create_pool(
            database_url,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            application_name="tracer-processor",
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    app = Starlette(routes=health_routes(registry), lifespan=lifespan)
    app.state.settings = settings
    app.state.registry = registry
    return app
