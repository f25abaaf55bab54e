"""Health, readiness and Prometheus endpoints that every Tracer app serves the same way."""

from __future__ import annotations

import asyncpg
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def health_routes(registry: CollectorRegistry) -> list[Route]:
    """`/healthz` (the process answers), `/readyz` (the database answers), `/metrics`.

    The app must put its asyncpg pool at `app.state.pool`; a reason it sets at
    `app.state.not_ready` (a string) also fails readiness, with that reason.
    """

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        pool: asyncpg.Pool | None = getattr(request.app.state, "pool", None)
        if pool is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        try:
            async with pool.acquire(timeout=2.0) as conn:
                await conn.fetchval("SELECT 1", timeout=2.0)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            return JSONResponse(
                {"status": "database unavailable", "error": type(exc).__name__}, status_code=503
            )
        reason: str | None = getattr(request.app.state, "not_ready", None)
        if reason:
            return JSONResponse({"status": "not ready", "error": reason}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
