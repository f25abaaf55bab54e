"""Bad and hostile requests get a 4xx with a clear message, never a 5xx: ids beyond int64,
NUL bytes, oversized bodies (refused before auth), validation errors that would echo the
input, guessed keys (429 per address); a database outage is a 503 with Retry-After."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import asyncpg
import pytest
from starlette.exceptions import HTTPException
from starlette.types import Message

from tests.agent.helpers import agent_settings, new_key, run_agent
from tracer_core.clock import ManualClock
from tracer_core.db import with_database
from tracer_core.http_guard import RequestGuard
from tracer_core.models import Role

TOO_BIG = "9223372036854775808"  # 2^63: one more than PostgreSQL's bigint holds


async def test_ids_beyond_int64_and_nul_bytes_are_4xx(
    database_url: str, pool: asyncpg.Pool
) -> None:
    admin = await new_key(pool, Role.ADMIN)
    async with run_agent(agent_settings(database_url, delivery_worker=False)) as agent:
        client = agent.client(admin)
        for method, path in [
            ("GET", f"/api/sink/messages?before_id={TOO_BIG}"),
            ("GET", f"/api/alerts/{TOO_BIG}/deliveries"),
            ("POST", f"/api/deliveries/{TOO_BIG}/retry"),
            ("GET", "/api/alerts/-1/deliveries"),
            ("GET", f"/api/incidents/{TOO_BIG}"),
            ("POST", f"/api/incidents/{TOO_BIG}/ack"),
            ("POST", f"/api/incidents/{TOO_BIG}/unack"),
            ("POST", f"/api/incidents/{TOO_BIG}/resolve"),
            ("GET", "/api/incidents/0"),
            ("DELETE", f"/api/silences/{TOO_BIG}"),
            ("DELETE", f"/api/keys/{'k' * 65}"),
        ]:
            answer = await client.request(method, path)
            assert answer.status_code == 422, (path, answer.text)
        for path in ("/api/connections/%00", "/api/connections/a%00b"):
            answer = await client.delete(path)
            assert answer.status_code == 400, (path, answer.text)
            assert "NUL" in answer.json()["detail"]
        answer = await client.get("/api/sink/messages?toolkit=%00")
        assert answer.status_code == 400
        largest = await client.get(f"/api/alerts/{2**63 - 1}/deliveries")
        assert largest.status_code == 404
        for method, path in [
            ("GET", f"/api/incidents/{2**63 - 1}"),
            ("POST", f"/api/incidents/{2**63 - 1}/ack"),
            ("DELETE", f"/api/silences/{2**63 - 1}"),
        ]:
            answer = await client.request(method, path)
            assert answer.status_code == 404, (path, answer.text)


async def test_validation_errors_do_not_echo_the_request(
    database_url: str, pool: asyncpg.Pool
) -> None:
    engineer = await new_key(pool, Role.ENGINEER)
    secret = "SECRET-" + "x" * 9000
    async with run_agent(agent_settings(database_url, delivery_worker=False)) as agent:
        client = agent.client(engineer)
        for body in ({"message": secret}, {"message": "hi", "extra": secret}, [secret]):
            answer = await client.post("/api/chat", json=body)
            assert answer.status_code == 422, answer.text
            assert "SECRET" not in answer.text
            assert all(set(e) == {"loc", "msg", "type"} for e in answer.json()["detail"])
        answer = await client.get(f"/api/sink/messages?toolkit=SECRET{secret}")
        assert answer.status_code == 422
        assert "SECRET" not in answer.text


async def test_an_oversized_body_is_refused_before_auth_without_being_read(
    database_url: str,
) -> None:
    settings = agent_settings(database_url, delivery_worker=False, max_body_bytes=64 * 1024)
    async with run_agent(settings) as agent:
        parts = urlsplit(agent.url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        # Announces 200 MB, sends 10 bytes, no key: the answer comes without the rest.
        writer.write(
            b"POST /api/chat HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b'content-length: 200000000\r\n\r\n{"message"'
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        writer.close()
        assert head.startswith(b"HTTP/1.1 413"), head
        async with agent.client() as client:
            fits = await client.post("/api/chat", json={"message": "hello"})
            assert fits.status_code == 401  # under the limit: auth decides


async def test_a_streamed_body_stops_being_read_at_the_limit() -> None:
    received: list[int] = []
    chunks = [b"x" * 1000 for _ in range(100)]

    async def app(scope: object, receive: Callable[[], Awaitable[Message]], send: object) -> None:
        while True:
            message = await receive()
            received.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                return

    async def receive() -> Message:
        body = chunks.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(chunks)}

    async def send(message: Message) -> None:
        raise AssertionError("the guard itself answers nothing here")

    guard = RequestGuard(app, max_body_bytes=5000)
    scope = {"type": "http", "path": "/api/chat", "headers": [], "query_string": b""}
    with pytest.raises(HTTPException) as raised:
        await guard(scope, receive, send)
    assert raised.value.status_code == 413
    assert len(received) == 5  # the sixth chunk passed the limit; the other 94 were never read
    assert len(chunks) == 94


async def test_failed_authentication_is_rate_limited_per_address(
    database_url: str, pool: asyncpg.Pool
) -> None:
    engineer = await new_key(pool, Role.ENGINEER)
    clock = ManualClock()
    settings = agent_settings(
        database_url, delivery_worker=False, auth_max_failures=5, auth_failure_window_seconds=60
    )
    async with run_agent(settings, clock=clock) as agent:
        wrong = agent.client("trc_abcdefgh_" + "w" * 40)
        codes = [(await wrong.get("/api/sink/messages")).status_code for _ in range(7)]
        assert codes == [401] * 5 + [429] * 2
        limited = await wrong.get("/api/sink/messages")
        assert limited.headers["retry-after"] == "60"
        # The address is blocked for every key until the window passes, then may try again.
        assert (await agent.client(engineer).get("/api/sink/messages")).status_code == 429
        clock.advance(30)
        assert (await wrong.get("/api/sink/messages")).headers["retry-after"] == "30"
        clock.advance(30)
        assert (await agent.client(engineer).get("/api/sink/messages")).status_code == 200
        assert (await wrong.get("/api/sink/messages")).status_code == 401


async def test_a_database_outage_is_503_with_retry_after(
    database_url: str, pool: asyncpg.Pool
) -> None:
    engineer = await new_key(pool, Role.ENGINEER)
    name = urlsplit(database_url).path.lstrip("/")
    admin = await asyncpg.connect(with_database(database_url, "postgres"))
    try:
        async with run_agent(agent_settings(database_url, delivery_worker=False)) as agent:
            client = agent.client(engineer)
            assert (await client.get("/api/deliveries")).status_code == 200
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
            for _ in range(3):
                answer = await client.get("/api/deliveries")
                assert answer.status_code == 503, answer.text
                assert answer.headers["retry-after"] == "5"
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            assert (await client.get("/api/deliveries")).status_code == 200
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()


async def test_the_spec_declares_the_api_key_scheme(database_url: str) -> None:
    settings = agent_settings(database_url, delivery_worker=False)
    async with run_agent(settings) as agent, agent.client() as client:
        spec = (await client.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A Tracer API key: trc_<prefix>_<secret>",
    }
    chat = spec["paths"]["/api/chat"]["post"]
    assert chat["security"] == [{"ApiKey": []}]
