"""Console sessions: engineer and admin keys sign in, ingest and unknown keys cannot; the cookie
is HttpOnly and SameSite (Secure behind https); forms without the CSRF token are refused;
engineers cannot reach admin pages; signing out or revoking the key ends the session."""

from __future__ import annotations

from contextlib import aclosing

import asyncpg

from tests.agent.console.helpers import csrf_of, sign_in, signed_in
from tests.agent.helpers import agent_settings, new_key, run_agent
from tracer_agent.auth.keys import revoke_key
from tracer_core.models import Role


async def test_sign_in_sets_a_protected_cookie_and_stores_only_a_digest(
    database_url: str, pool: asyncpg.Pool
) -> None:
    key = await new_key(pool, Role.ENGINEER, "alice")
    async with run_agent(agent_settings(database_url)) as agent:
        client, answer = await sign_in(agent, key)
        async with aclosing(client):
            assert answer.status_code == 303
            assert answer.headers["location"] == "/"
            cookie = next(
                h for h in answer.headers.get_list("set-cookie") if h.startswith("tracer_session=")
            )
            assert "HttpOnly" in cookie
            assert "SameSite=lax" in cookie
            assert "Secure" not in cookie
            token = client.cookies["tracer_session"]
            home = await client.get("/")
            assert home.status_code == 200
            assert "alice (engineer)" in home.text
    stored = await pool.fetch("SELECT * FROM console_sessions")
    assert len(stored) == 1
    assert all(token not in str(v) and key not in str(v) for v in dict(stored[0]).values())


async def test_cookie_is_secure_behind_https(database_url: str, pool: asyncpg.Pool) -> None:
    key = await new_key(pool, Role.ADMIN)
    settings = agent_settings(database_url, public_url="https://tracer.example.com")
    async with run_agent(settings) as agent, agent.client() as client:
        form = await client.get("/login")
        assert "Secure" in form.headers["set-cookie"]
        token = csrf_of(form.text)
        # A browser returns Secure cookies over https only; this test talks http, so it
        # sends the sign-in form's cookie itself.
        answer = await client.post(
            "/login",
            data={"api_key": key, "csrf_token": token},
            headers={"cookie": f"tracer_login_csrf={token}"},
        )
        assert answer.status_code == 303
        cookies = answer.headers.get_list("set-cookie")
        assert any(c.startswith("tracer_session=") and "Secure" in c for c in cookies)


async def test_ingest_and_unknown_keys_cannot_sign_in(
    database_url: str, pool: asyncpg.Pool
) -> None:
    ingest = await new_key(pool, Role.INGEST)
    async with run_agent(agent_settings(database_url)) as agent:
        for key in (ingest, "trc_abcdefgh_" + "x" * 40, "nonsense"):
            client, answer = await sign_in(agent, key)
            async with aclosing(client):
                assert answer.status_code == 401
                assert "cannot sign in" in answer.text
                assert "tracer_session" not in client.cookies
                assert key not in answer.text
    assert await pool.fetchval("SELECT count(*) FROM console_sessions") == 0


async def test_pages_need_a_session(database_url: str) -> None:
    async with run_agent(agent_settings(database_url)) as agent, agent.client() as client:
        for path in ("/", "/incidents/1", "/services", "/chat", "/admin"):
            answer = await client.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == f"/login?next={path}"
        polled = await client.get("/incidents/rows", headers={"HX-Request": "true"})
        assert polled.headers["hx-redirect"].startswith("/login")


async def test_posts_without_the_csrf_token_are_refused(
    database_url: str, pool: asyncpg.Pool
) -> None:
    key = await new_key(pool, Role.ADMIN)
    async with run_agent(agent_settings(database_url)) as agent:
        async with agent.client() as anonymous:
            refused = await anonymous.post("/login", data={"api_key": key})
            assert refused.status_code == 403
        client = await signed_in(agent, key)
        async with aclosing(client):
            for path, data in (
                ("/logout", {}),
                ("/admin/keys", {"role": "engineer", "name": "x"}),
                ("/chat/stream", {"message": "hi"}),
            ):
                for token in (None, "wrong"):
                    sent = data if token is None else {**data, "csrf_token": token}
                    answer = await client.post(path, data=sent)
                    assert answer.status_code == 403, (path, token)
                    assert "CSRF" in answer.text
            # Nothing happened: still signed in, no key created.
            assert (await client.get("/")).status_code == 200
    assert await pool.fetchval("SELECT count(*) FROM api_keys WHERE name = 'x'") == 0


async def test_engineers_cannot_reach_admin_pages(database_url: str, pool: asyncpg.Pool) -> None:
    key = await new_key(pool, Role.ENGINEER)
    async with run_agent(agent_settings(database_url)) as agent:
        client = await signed_in(agent, key)
        async with aclosing(client):
            home = await client.get("/")
            assert 'href="/admin"' not in home.text
            page = await client.get("/admin")
            assert page.status_code == 403
            assert "admin key" in page.text
            token = csrf_of(home.text)
            made = await client.post(
                "/admin/keys", data={"role": "admin", "name": "sneaky", "csrf_token": token}
            )
            assert made.status_code == 403
    assert await pool.fetchval("SELECT count(*) FROM api_keys WHERE name = 'sneaky'") == 0


async def test_sign_out_and_revocation_end_the_session(
    database_url: str, pool: asyncpg.Pool
) -> None:
    key = await new_key(pool, Role.ENGINEER, "bob")
    async with run_agent(agent_settings(database_url)) as agent:
        client = await signed_in(agent, key)
        async with aclosing(client):
            token = client.cookies["tracer_session"]
            home = await client.get("/")
            out = await client.post("/logout", data={"csrf_token": csrf_of(home.text)})
            assert out.status_code == 303
            assert (await client.get("/")).status_code == 303
            client.cookies.set("tracer_session", token)  # a copied cookie is dead too
            assert (await client.get("/")).status_code == 303
        second = await signed_in(agent, key)
        async with aclosing(second):
            assert (await second.get("/")).status_code == 200
            prefix = key.split("_")[1]
            assert await revoke_key(pool, prefix=prefix)
            assert (await second.get("/")).status_code == 303
