"""Closed by default and strict about requests: browsers cannot post or read cross-origin,
keys are required off loopback, bad parameters are 4xx, a database outage is a 503."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson
import pytest
from starlette.testclient import TestClient

from tracer_core.clock import ManualClock
from tracer_core.db import with_database
from tracer_processor.app import create_app
from tracer_processor.settings import ProcessorSettings

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RECORD = {"timestamp": "2026-03-02T11:59:59Z", "service": "a", "level": "info", "message": "m"}
EVIL = "https://evil.example"


def app_client(database_url: str, **settings: Any) -> TestClient:
    config = ProcessorSettings(database_url=database_url, checkpoint_seconds=0, **settings)
    return TestClient(create_app(config, clock=ManualClock(NOW)))


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with app_client(database_url, allowed_origins="https://console.example") as test_client:
        yield test_client


def test_a_cross_origin_text_plain_post_is_refused(client: TestClient) -> None:
    body = orjson.dumps([RECORD])
    from_page = client.post(
        "/api/logs", content=body, headers={"content-type": "text/plain", "origin": EVIL}
    )
    assert from_page.status_code == 403
    assert "access-control-allow-origin" not in from_page.headers
    no_origin = client.post("/api/logs", content=body, headers={"content-type": "text/plain"})
    assert no_origin.status_code == 415
    as_json = client.post(
        "/api/logs", content=body, headers={"content-type": "application/json", "origin": EVIL}
    )
    assert as_json.status_code == 403
    preflight = client.options(
        "/api/logs", headers={"origin": EVIL, "access-control-request-method": "POST"}
    )
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    assert client.get("/api/alerts", headers={"origin": EVIL}).status_code == 403
    assert client.get("/api/alerts").json() == []
    assert client.post("/api/logs", json=[RECORD]).json()["accepted"] == 1


def test_a_body_without_content_type_is_refused(client: TestClient) -> None:
    body = orjson.dumps([RECORD])
    assert client.post("/api/logs", content=body).status_code == 415
    assert client.post("/v1/logs", content=b"").status_code == 415


def test_dns_rebinding_shaped_requests_are_refused_off_loopback(database_url: str) -> None:
    """A rebinding page is same-origin with the processor in its browser's eyes: its Host is
    the attacker's name. Its POSTs still carry its Origin, and its GETs carry no key."""
    with app_client(database_url, host="0.0.0.0") as client:
        rebound = {"host": "evil.example:4318"}
        post = client.post(
            "/api/logs", json=[RECORD], headers=rebound | {"origin": "http://evil.example:4318"}
        )
        assert post.status_code == 403
        assert client.get("/api/alerts", headers=rebound).status_code == 401
        assert client.get("/api/services", headers=rebound).status_code == 401
    with app_client(database_url, allowed_hosts="tracer.internal") as client:
        assert client.get("/api/alerts", headers={"host": "evil.example"}).status_code == 421
        assert (
            client.get("/api/alerts", headers={"host": "tracer.internal:4318"}).status_code == 200
        )


def test_an_allowed_origin_may_call(client: TestClient) -> None:
    allowed = client.get("/api/alerts", headers={"origin": "https://console.example"})
    assert allowed.status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/api/alerts?service=%00",
        "/api/alerts?service=a%1b",
        "/api/services?project=%00",
        "/api/alerts%00",
        "/api/alerts?limit=9223372036854775808",
        "/api/alerts?limit=%EF%BC%95",  # a full-width digit
        "/api/services?limit=99999999999999999999999",
        "/api/services?cursor=not-a-cursor",
        "/api/services?cursor=WzFd",  # base64 of [1]
    ],
)
def test_bad_parameters_are_4xx(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert 400 <= response.status_code < 500, (url, response.status_code)
    assert "error" in response.json()


def test_large_service_listings_are_capped_and_paginated(client: TestClient) -> None:
    body = [dict(RECORD, service=f"svc-{i:04d}") for i in range(1500)]
    assert client.post("/api/logs", json=body).json()["accepted"] == 1500
    assert client.get("/api/services?limit=1001").status_code == 400
    seen: list[str] = []
    cursor = ""
    while True:
        page = client.get(f"/api/services?limit=1000&cursor={cursor}")
        seen += [row["service"] for row in page.json()]
        cursor = page.headers.get("x-next-cursor", "")
        if not cursor:
            break
    assert seen == sorted(f"svc-{i:04d}" for i in range(1500))


def test_the_openapi_spec_is_served_with_its_bearer_scheme(client: TestClient) -> None:
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    document = spec.json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["paths"]["/api/alerts"]["get"]["security"] == [{"bearer": []}]


def test_keys_are_required_off_loopback_unless_explicitly_waived() -> None:
    assert not ProcessorSettings(host="127.0.0.1").keys_required
    assert not ProcessorSettings(host="::1").keys_required
    assert ProcessorSettings(host="0.0.0.0").keys_required
    assert ProcessorSettings(host="10.1.2.3").keys_required
    assert not ProcessorSettings(host="0.0.0.0", allow_unauthenticated=True).keys_required
    assert ProcessorSettings(require_ingest_key=True).keys_required


def test_off_loopback_reads_and_writes_need_a_key_and_the_size_limit_comes_first(
    database_url: str,
) -> None:
    with app_client(database_url, host="0.0.0.0", max_body_bytes=2048) as client:
        assert client.get("/api/alerts").status_code == 401
        assert client.get("/api/services").status_code == 401
        assert client.post("/api/logs", json=[RECORD]).status_code == 401
        huge = orjson.dumps([RECORD] * 100)
        too_big = client.post(
            "/api/logs", content=huge, headers={"content-type": "application/json"}
        )
        assert too_big.status_code == 413
        assert client.get("/openapi.json").status_code == 200


async def _allow_connections(database_url: str, allowed: bool) -> None:
    name = urlsplit(database_url).path.lstrip("/")
    admin = await asyncpg.connect(with_database(database_url, "postgres"))
    try:
        await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {str(allowed).lower()}")
        if not allowed:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
    finally:
        await admin.close()


def test_a_database_outage_is_a_503_with_retry_after(database_url: str) -> None:
    with app_client(database_url) as client:
        asyncio.run(_allow_connections(database_url, False))
        try:
            response = client.get("/api/alerts")
        finally:
            asyncio.run(_allow_connections(database_url, True))
        assert response.status_code == 503
        assert response.headers["retry-after"].isdigit()
        assert client.get("/api/alerts").status_code == 200


def test_failed_authentications_are_rate_limited_per_client(database_url: str) -> None:
    clock = ManualClock(NOW)
    settings = ProcessorSettings(database_url=database_url, checkpoint_seconds=0, host="0.0.0.0")
    with TestClient(create_app(settings, clock=clock)) as client:
        wrong = {"authorization": "Bearer trc_wrong000_dddddddddddddddddddddddddddd"}
        statuses = [client.get("/api/alerts", headers=wrong).status_code for _ in range(20)]
        assert statuses == [401] * 20
        limited = client.post("/api/logs", json=[RECORD], headers=wrong)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
        clock.advance(61)
        assert client.get("/api/alerts", headers=wrong).status_code == 401
