"""What every Tracer process does around its app: pick the database (embedded when
DATABASE_URL is unset), bring the schema up to date, serve HTTP, and stop cleanly."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from tracer_core.embedded import resolve_database_url
from tracer_core.migrate import migrate

log = logging.getLogger(__name__)


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("pgserver").setLevel(logging.WARNING)


@contextmanager
def prepared_database(database_url: str | None, home: Path) -> Iterator[str]:
    """Yield a migrated database URL; an embedded server started here stops on exit."""
    url, embedded = resolve_database_url(database_url, home)
    try:
        applied = asyncio.run(migrate(url))
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        yield url
    finally:
        if embedded is not None:
            embedded.stop()


def serve(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    access_log: bool = False,
    sock: socket.socket | None = None,
) -> None:
    """Run `app` until SIGINT/SIGTERM; uvicorn drains connections and runs the lifespan exit.
    `sock`, bound early with `bind_listener`, is served instead of binding host:port here."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=access_log,
        log_config=None,
        lifespan="on",
        http="httptools",
        loop="uvloop",
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run(sockets=[sock] if sock is not None else None)
