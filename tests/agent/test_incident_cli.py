"""The CLI's incident, silence and key commands against a real database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from tests.agent.helpers import open_alert
from tracer_core.db import create_pool


def _tracer(database_url: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracer", *args, "--database-url", database_url],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "TRACER_HOME": str(home)},
    )  # fmt: skip


def _open_alert(database_url: str) -> None:
    async def run() -> None:
        pool = await create_pool(database_url, min_size=1, max_size=1)
        try:
            await open_alert(pool, severity="high")
        finally:
            await pool.close()

    asyncio.run(run())


def _fetchval(database_url: str, sql: str) -> object:
    async def run() -> object:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    return asyncio.run(run())


def test_incidents_silences_and_keys_from_the_cli(database_url: str, tmp_path: Path) -> None:
    _open_alert(database_url)
    listed = _tracer(database_url, tmp_path, "incidents", "list")
    assert listed.returncode == 0, listed.stderr
    assert "default/checkout" in listed.stdout
    assert "open" in listed.stdout
    incident = str(_fetchval(database_url, "SELECT id FROM incidents"))
    acked = _tracer(database_url, tmp_path, "incidents", "ack", incident, "--by", "ada")
    assert "acknowledged by ada" in acked.stdout, acked.stderr
    resolved = _tracer(database_url, tmp_path, "incidents", "resolve", incident, "--by", "ada")
    assert "resolved" in resolved.stdout
    assert _fetchval(database_url, "SELECT resolved_by FROM incidents") == "ada"

    added = _tracer(
        database_url, tmp_path, "silence", "add", "--service", "checkout", "--by", "ada",
        "--minutes", "30", "--comment", "deploy",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "service=checkout" in _tracer(database_url, tmp_path, "silence", "list").stdout
    silence = str(_fetchval(database_url, "SELECT id FROM silences"))
    assert _tracer(database_url, tmp_path, "silence", "expire", silence).returncode == 0
    assert _tracer(database_url, tmp_path, "silence", "list").stdout.strip() == ""

    created = _tracer(database_url, tmp_path, "keys", "create", "--role", "ingest")
    prefix = created.stdout.strip().split("_")[1]
    assert prefix in _tracer(database_url, tmp_path, "keys", "list").stdout
    assert _tracer(database_url, tmp_path, "keys", "revoke", prefix).returncode == 0
    assert "revoked" in _tracer(database_url, tmp_path, "keys", "list").stdout
    assert _tracer(database_url, tmp_path, "keys", "revoke", prefix).returncode == 1
