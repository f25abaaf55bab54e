"""Signing a test client into the console the way a browser does: read the form's CSRF token,
post the key, keep the cookies."""

from __future__ import annotations

import re

import httpx

from tests.agent.helpers import RunningAgent

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


async def sign_in(agent: RunningAgent, key: str) -> tuple[httpx.AsyncClient, httpx.Response]:
    """A client that went through the sign-in form; returns it and the form's answer."""
    client = agent.client()
    form = await client.get("/login")
    answer = await client.post(
        "/login", data={"api_key": key, "csrf_token": csrf_of(form.text), "next": "/"}
    )
    return client, answer


async def signed_in(agent: RunningAgent, key: str) -> httpx.AsyncClient:
    client, answer = await sign_in(agent, key)
    assert answer.status_code == 303, answer.text
    return client
