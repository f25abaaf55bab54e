"""Start-up problems a user can fix are one clear line on stderr and exit code 2, never a
traceback: a wrong or unreachable DATABASE_URL, a missing database, a busy port (found
before any work), invalid settings; `tracer check-config` checks without starting anything."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest

from tests.support import free_port
from tracer_core.db import with_database

pytestmark = pytest.mark.slow


def _tracer(
    *args: str, env: dict[str, str], timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracer", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **env},
    )  # fmt: skip


@contextmanager
def taken_port() -> Iterator[int]:
    """A loopback port another program listens on while the block runs."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("role", ["processor", "agent"])
def test_an_unreachable_database_is_one_line(role: str, tmp_path: Path) -> None:
    dead = f"postgresql://tracer:secret-pw@127.0.0.1:{free_port()}/tracer"
    result = _tracer(role, "--port", "0", env={"DATABASE_URL": dead, "TRACER_HOME": str(tmp_path)})
    line = _one_line(result)
    assert line.startswith("error: cannot reach PostgreSQL at 127.0.0.1:")
    assert "connection refused" in line
    assert "secret-pw" not in result.stderr


def test_a_missing_database_says_how_to_create_it(pg_server_url: str, tmp_path: Path) -> None:
    url = with_database(pg_server_url, "tracer_does_not_exist_zz")
    line = _one_line(_tracer("migrate", env={"DATABASE_URL": url, "TRACER_HOME": str(tmp_path)}))
    assert "database 'tracer_does_not_exist_zz' does not exist" in line
    assert "createdb tracer_does_not_exist_zz" in line


def test_a_malformed_database_url_is_one_line(tmp_path: Path) -> None:
    result = _tracer("migrate", env={"DATABASE_URL": "mysql://x/y", "TRACER_HOME": str(tmp_path)})
    assert _one_line(result).startswith("error: DATABASE_URL is not a usable PostgreSQL URL")


@pytest.mark.parametrize("role", ["processor", "agent"])
def test_a_busy_port_stops_the_app_before_any_work(
    role: str, empty_database_url: str, tmp_path: Path
) -> None:
    with taken_port() as port:
        result = _tracer(
            role, "--port", str(port),
            env={"DATABASE_URL": empty_database_url, "TRACER_HOME": str(tmp_path)},
        )  # fmt: skip
    line = _one_line(result)
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert "address already in use" in line

    async def tables() -> int:
        conn = await asyncpg.connect(empty_database_url)
        try:
            return int(
                await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            )
        finally:
            await conn.close()

    assert asyncio.run(tables()) == 0, "the database was touched before the port was checked"


def test_up_refuses_a_busy_port_before_starting_anything(
    empty_database_url: str, tmp_path: Path
) -> None:
    with taken_port() as port:
        result = _tracer(
            "up", "--processor-port", str(free_port()), "--agent-port", str(port),
            env={"DATABASE_URL": empty_database_url, "TRACER_HOME": str(tmp_path)},
        )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Tracer is up" not in result.stdout
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_invalid_setting_names_its_variable(tmp_path: Path) -> None:
    result = _tracer(
        "processor", env={"TRACER_PROCESSOR_PORT": "http", "TRACER_HOME": str(tmp_path)}
    )
    line = _one_line(result)
    assert line.startswith("error: invalid settings: TRACER_PROCESSOR_PORT='http'")


def test_check_config_reports_every_problem_without_starting_anything(tmp_path: Path) -> None:
    rules = tmp_path / "routing.yaml"
    rules.write_text("destinations: [{name: ops, toolkit: slack}]\nrules: [{send_to: [nope]}]\n")
    bad = _tracer(
        "check-config",
        env={"TRACER_PROCESSOR_PORT": "x", "TRACER_ROUTING_FILE": str(rules),
             "TRACER_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    assert bad.returncode == 2
    assert "TRACER_PROCESSOR_PORT='x'" in bad.stderr
    assert str(rules) in bad.stderr
    assert "Traceback" not in bad.stderr
    assert not (tmp_path / "home").exists(), "nothing was started or created"

    good = _tracer("check-config", env={"TRACER_HOME": str(tmp_path / "home")})
    assert good.returncode == 0, good.stderr
    assert "configuration OK" in good.stdout
    assert not (tmp_path / "home").exists()
