"""Helpers shared by the test suites (no fixtures here: those live in conftest.py).

`wait_until` and `eventually` are the one way tests wait for something another process or
task does: they poll a condition with a deadline, never sleep a fixed time.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

import httpx

T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    predicate: Callable[[], bool], *, timeout: float = 30.0, interval: float = 0.05
) -> None:
    """Poll `predicate` until true, from synchronous code (waiting on other processes)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


@overload
async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, within: float = ..., interval: float = ...
) -> T: ...
@overload
async def eventually(
    probe: Callable[[], T | None], *, within: float = ..., interval: float = ...
) -> T: ...
async def eventually(
    probe: Callable[[], Any], *, within: float = 20.0, interval: float = 0.05
) -> Any:
    """Poll `probe` (plain or async) until it returns something truthy, and return that.

    Sleeps on the event loop between polls, so tasks under test keep running.
    """
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {within} s")
        await asyncio.sleep(interval)


def is_healthy(url: str) -> bool:
    """Whether the app at `url` answers 200 on /healthz right now."""
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
