"""Real PostgreSQL for every test.

One server per test session: `TRACER_TEST_DATABASE_URL` when set (a URL to any database on a
server where the user may create databases), else an embedded `pgserver` in a temporary
directory. Migrations run once into a template database; each test gets its own
`CREATE DATABASE ... TEMPLATE` copy, so tests are isolated and fast.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.fakes.network_guard import NetworkGuard
from tracer_core.db import create_pool, with_database
from tracer_core.embedded import EmbeddedPostgres
from tracer_core.migrate import migrate


async def _admin_execute(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A URL on the test server (its database part is replaced per use)."""
    configured = os.environ.get("TRACER_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    # Not under pytest's basetemp: a concurrent pytest run prunes old basetemps, which would
    # delete a live server's data directory.
    home = Path(tempfile.mkdtemp(prefix="tracer-test-pg-"))
    embedded = EmbeddedPostgres(home)
    url = embedded.start()
    try:
        yield url
    finally:
        embedded.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def template_database(pg_server_url: str) -> Iterator[str]:
    name = f"tracer_tpl_{secrets.token_hex(4)}"
    asyncio.run(_admin_execute(pg_server_url, f"CREATE DATABASE {name}"))
    asyncio.run(migrate(with_database(pg_server_url, name)))
    try:
        yield name
    finally:
        asyncio.run(_admin_execute(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def _create_database(pg_server_url: str, template: str | None) -> str:
    name = f"tracer_test_{secrets.token_hex(6)}"
    suffix = f" TEMPLATE {template}" if template else ""
    asyncio.run(_admin_execute(pg_server_url, f"CREATE DATABASE {name}{suffix}"))
    return name


@pytest.fixture
def database_url(pg_server_url: str, template_database: str) -> Iterator[str]:
    """A fresh, migrated database of its own for this test."""
    name = _create_database(pg_server_url, template_database)
    try:
        yield with_database(pg_server_url, name)
    finally:
        asyncio.run(_admin_execute(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def empty_database_url(pg_server_url: str) -> Iterator[str]:
    """A fresh database with no schema at all (for migration tests)."""
    name = _create_database(pg_server_url, None)
    try:
        yield with_database(pg_server_url, name)
    finally:
        asyncio.run(_admin_execute(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=8)
    try:
        yield pool
    finally:
        await pool.close()


# Variables that configure Tracer or its outside services. A developer's shell often sets some
# of them (a real OpenAI key, a bucket size being tried); tests must not see any.
_SHELL_PREFIXES = ("TRACER_", "OPENAI_", "COMPOSIO_", "NATS_")
_SHELL_NAMES = ("DATABASE_URL",)
# The test suite's own knobs, read by fixtures: kept.
_TEST_KNOBS = ("TRACER_TEST_DATABASE_URL", "TRACER_CHAOS_TRIALS")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clear every Tracer, OpenAI and Composio variable, so tests behave alike in any shell.

    `monkeypatch` changes `os.environ` itself, so processes a test starts inherit the clean
    environment too.
    """
    for name in list(os.environ):
        if name in _TEST_KNOBS:
            continue
        if name in _SHELL_NAMES or name.startswith(_SHELL_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkGuard]:
    """Fail any test that reached a non-loopback address: outside services must be faked."""
    guard = NetworkGuard()
    guard.install(monkeypatch)
    yield guard
    if guard.attempts:
        pytest.fail("unfaked external request(s): " + ", ".join(guard.attempts))


_INTEGRATION = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration/ starts real processes: it is `slow`.

    `pytest -m "not slow"` is the quick run; plain `pytest` (the CI command) runs all.
    """
    for item in items:
        if item.path.is_relative_to(_INTEGRATION):
            item.add_marker(pytest.mark.slow)
