"""An embedded PostgreSQL server (the `pgserver` wheel) under TRACER_HOME.

Used whenever DATABASE_URL is unset, so Tracer runs with no services installed. The first
process starts the server; later processes reuse it; the server stops when the last process
that started or joined it exits. A data directory held by something that is not a healthy
PostgreSQL, or one that is damaged, raises `EmbeddedPostgresError` saying what to do.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DATABASE_NAME = "tracer"


class EmbeddedPostgresError(RuntimeError):
    pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie holds its pid but nothing else
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


def _process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _check_not_locked(pgdata: Path) -> None:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return
    try:
        first = pidfile.read_text().splitlines()[0].strip()
        pid = int(first)
    except (OSError, IndexError, ValueError):
        raise EmbeddedPostgresError(
            f"the embedded PostgreSQL data directory {pgdata} has an unreadable lock file "
            f"{pidfile}; if no PostgreSQL is running there, delete that file and retry"
        ) from None
    if _pid_alive(pid) and _process_name(pid) not in ("postgres", "postmaster"):
        raise EmbeddedPostgresError(
            f"the embedded PostgreSQL data directory {pgdata} is locked by process {pid} "
            f"({_process_name(pid) or 'unknown'}), which is not a PostgreSQL server; stop that "
            f"process, or set TRACER_HOME to another directory, or set DATABASE_URL"
        )


def _check_not_damaged(pgdata: Path) -> None:
    version_file = pgdata / "PG_VERSION"
    if not version_file.exists():
        if pgdata.exists() and any(p.name != "log" for p in pgdata.iterdir()):
            raise EmbeddedPostgresError(
                f"the embedded PostgreSQL data directory {pgdata} is damaged: it has files but "
                f"no PG_VERSION; move it away (it will be recreated empty) or set DATABASE_URL"
            )
        return
    version = version_file.read_text().strip()
    if not version.isdigit():
        raise EmbeddedPostgresError(
            f"the embedded PostgreSQL data directory {pgdata} is damaged: PG_VERSION holds "
            f"{version[:40]!r}; move the directory away or set DATABASE_URL"
        )


class EmbeddedPostgres:
    """A handle on the embedded server. `start()` returns the URL of the `tracer` database."""

    def __init__(self, home: Path) -> None:
        self.home = home.expanduser().resolve()
        self.pgdata = self.home / "pgdata"
        self._server: Any = None

    def start(self) -> str:
        self.home.mkdir(parents=True, exist_ok=True)
        _check_not_locked(self.pgdata)
        _check_not_damaged(self.pgdata)
        # Imported late: importing it touches the runtime dir and the OS user database.
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, containers); its
            # /tmp fallback is fine for a socket directory.
            warnings.simplefilter("ignore", UserWarning)
            from pgserver.postgres_server import get_server

        try:
            self._server = get_server(self.pgdata, cleanup_mode="stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError) as exc:
            log_file = self.pgdata / "log"
            tail = ""
            if log_file.exists():
                tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-15:])
            raise EmbeddedPostgresError(
                f"the embedded PostgreSQL in {self.pgdata} failed to start ({exc}); "
                f"its log ends with:\n{tail}"
            ) from None
        self._ensure_database()
        return self.url

    @property
    def url(self) -> str:
        if self._server is None:
            raise EmbeddedPostgresError("the embedded PostgreSQL is not started")
        return str(self._server.get_uri(DATABASE_NAME))

    def server_url(self, database: str) -> str:
        if self._server is None:
            raise EmbeddedPostgresError("the embedded PostgreSQL is not started")
        return str(self._server.get_uri(database))

    def _ensure_database(self) -> None:
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "(1 row)" not in exists:
            output = self._server.psql(f"CREATE DATABASE {DATABASE_NAME};")
            if "CREATE DATABASE" not in output and "already exists" not in output:
                raise EmbeddedPostgresError(f"could not create database {DATABASE_NAME}: {output}")

    def stop(self) -> None:
        """Release this process's handle; the server stops when no other process holds one."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def resolve_database_url(
    database_url: str | None, home: Path
) -> tuple[str, EmbeddedPostgres | None]:
    """The URL to use, starting the embedded server when none is configured."""
    if database_url:
        return database_url, None
    embedded = EmbeddedPostgres(home)
    url = embedded.start()
    log.info("using the embedded PostgreSQL in %s", embedded.pgdata)
    return url, embedded
