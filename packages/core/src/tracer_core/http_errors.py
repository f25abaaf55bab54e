"""Error answers shared by both apps: validation errors that never echo the request, and a
503 with `Retry-After` when PostgreSQL is unreachable instead of a 500."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse, Response

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_SECONDS = 5

# Failures of the connection, not of the statement: the same request may work in a moment.
DATABASE_OUTAGES: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # what a connection the server killed mid-use can raise
    asyncpg.ObjectNotInPrerequisiteStateError,
    ConnectionError,
    TimeoutError,
    OSError,
)


def _without_input(error: dict[str, Any]) -> dict[str, Any]:
    """Location, message and type only: `input` and `ctx` may carry what the caller sent."""
    return {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error["type"]}


async def validation_failed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": [_without_input(e) for e in exc.errors()]}, status_code=422)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable on %s: %s", request.url.path, type(exc).__name__)
    return JSONResponse(
        {"detail": "the database is unavailable; retry shortly"},
        status_code=503,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_failed)
    for outage in DATABASE_OUTAGES:
        app.add_exception_handler(outage, database_unavailable)
