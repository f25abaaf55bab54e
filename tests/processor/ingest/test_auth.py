"""Ingest API keys (`TRACER_REQUIRE_INGEST_KEY`): roles, revocation and the verification cache."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import asyncpg
import pytest
from starlette.testclient import TestClient

from tracer_core.clock import ManualClock
from tracer_processor.app import create_app
from tracer_processor.settings import ProcessorSettings

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
KEYS = {
    "ingest": "trc_ingest01_aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "admin": "trc_admin001_bbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "engineer": "trc_engin001_cccccccccccccccccccccccccccc",
}
RECORD = [{"timestamp": "2026-03-02T11:59:59Z", "service": "a", "level": "info", "message": "m"}]


async def _sql(database_url: str, sql: str, *args: object) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def client(database_url: str, clock: ManualClock) -> Iterator[TestClient]:
    for role, key in KEYS.items():
        asyncio.run(
            _sql(
                database_url,
                "INSERT INTO api_keys (name, role, prefix, key_hash) VALUES ($1, $1, $2, $3)",
                role,
                key.split("_")[1],
                hashlib.sha256(key.encode()).hexdigest(),
            )
        )
    settings = ProcessorSettings(
        database_url=database_url, require_ingest_key=True, api_key_cache_seconds=30
    )
    with TestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client


def bearer(role: str) -> dict[str, str]:
    return {"authorization": f"Bearer {KEYS[role]}"}


def test_ingest_needs_an_ingest_or_admin_key(client: TestClient) -> None:
    assert client.post("/api/logs", json=RECORD).status_code == 401
    wrong = client.post("/api/logs", json=RECORD, headers={"authorization": "Bearer trc_x_y"})
    assert wrong.status_code == 401
    assert "unknown or revoked" in wrong.json()["error"]
    basic = client.post("/api/logs", json=RECORD, headers={"authorization": "Basic abc"})
    assert basic.status_code == 401
    engineer = client.post("/api/logs", json=RECORD, headers=bearer("engineer"))
    assert engineer.status_code == 403
    assert client.post("/api/logs", json=RECORD, headers=bearer("ingest")).status_code == 202
    assert client.post("/api/logs", json=RECORD, headers=bearer("admin")).status_code == 202
    otlp = client.post("/v1/logs", content=b"", headers={"content-type": "application/json"})
    assert otlp.status_code == 401


def test_reads_need_any_valid_key(client: TestClient) -> None:
    assert client.get("/api/alerts").status_code == 401
    assert client.get("/api/services").status_code == 401
    assert client.get("/api/alerts", headers=bearer("engineer")).status_code == 200
    assert client.get("/api/services", headers=bearer("ingest")).status_code == 200
    assert client.get("/healthz").status_code == 200  # probes stay open


def test_a_revoked_key_stops_working_once_its_cache_entry_expires(
    client: TestClient, clock: ManualClock, database_url: str
) -> None:
    assert client.post("/api/logs", json=RECORD, headers=bearer("ingest")).status_code == 202
    asyncio.run(_sql(database_url, "UPDATE api_keys SET revoked_at = now() WHERE name = 'ingest'"))
    # Verified a moment ago: the hot path trusts the cache instead of asking the database.
    assert client.post("/api/logs", json=RECORD, headers=bearer("ingest")).status_code == 202
    clock.advance(31)
    assert client.post("/api/logs", json=RECORD, headers=bearer("ingest")).status_code == 401


def test_a_successful_check_records_when_the_key_was_used(
    client: TestClient, database_url: str
) -> None:
    client.post("/api/logs", json=RECORD, headers=bearer("admin"))

    async def last_used() -> object:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetchval("SELECT last_used_at FROM api_keys WHERE name = 'admin'")
        finally:
            await conn.close()

    assert asyncio.run(last_used()) is not None


def test_services_count_against_the_key_that_created_them(client: TestClient) -> None:
    registry = client.app.state.pipeline.registry  # type: ignore[attr-defined]
    registry.max_per_sender = 1
    for role in ("ingest", "admin"):
        batch = [RECORD[0] | {"service": f"{role}-{i}"} for i in range(2)]
        answer = client.post("/api/logs", json=batch, headers=bearer(role)).json()
        assert (answer["accepted"], answer["rejected"]) == (1, 1)
    assert len(registry) == 2
