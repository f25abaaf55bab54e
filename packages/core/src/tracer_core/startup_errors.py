"""Start-up failures a user can fix, each turned into one line that says what to do.

A wrong or unreachable `DATABASE_URL` would otherwise surface as a long asyncpg traceback,
and a busy port only after the process had already done work (taken over open alerts).
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import asyncpg


class DatabaseUnreachableError(RuntimeError):
    """PostgreSQL cannot be used with the configured URL; the message says why."""


class PortInUseError(RuntimeError):
    """The address to listen on is taken or not available."""


def _where(database_url: str) -> str:
    """Host, port and database of the URL, never its password."""
    try:
        parts = urlsplit(database_url)
        host = parts.hostname or "the local socket"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "the configured server"
    database = parts.path.lstrip("/") or "(default database)"
    return f"{host}{port}/{database}"


def describe_connect_failure(exc: BaseException, database_url: str) -> str:
    where = _where(database_url)
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        name = urlsplit(database_url).path.lstrip("/")
        return (
            f"database {name!r} does not exist on {where.rsplit('/', 1)[0]} (DATABASE_URL); "
            f"create it first, for example: createdb {name}"
        )
    if isinstance(
        exc, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError
    ):
        return f"PostgreSQL at {where} refused the login (DATABASE_URL): {exc}"
    if isinstance(exc, asyncpg.PostgresError):
        return f"PostgreSQL at {where} refused the connection (DATABASE_URL): {exc}"
    if isinstance(exc, TimeoutError):
        return f"cannot reach PostgreSQL at {where} (DATABASE_URL): no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot reach PostgreSQL at {where} (DATABASE_URL): connection refused"
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc) or type(exc).__name__
        return f"cannot reach PostgreSQL at {where} (DATABASE_URL): {reason.lower()}"
    return f"DATABASE_URL is not a usable PostgreSQL URL ({where}): {exc}"


# What asyncpg.connect raises for a URL, a server or a login that does not work.
CONNECT_FAILURES: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    ValueError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


def bind_listener(host: str, port: int, *, variable: str) -> socket.socket:
    """A listening socket on host:port, made before any other start-up work so that a busy
    port stops the process before it touches the database."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = (exc.strerror or str(exc)).lower()
        raise PortInUseError(
            f"cannot listen on {host}:{port} ({variable} or --port): {reason}; stop the "
            "process using it or choose another port"
        ) from None
    sock.set_inheritable(True)
    return sock
