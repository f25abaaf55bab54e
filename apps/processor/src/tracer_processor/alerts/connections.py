"""Back-to-back alert decisions reuse a connection instead of cycling it through the pool.

Returning a connection to an asyncpg pool resets its session with one more round trip, which
costs about a quarter of a decision's time when decisions come in bursts (an incident storm,
a replay, a writer draining its backlog after an outage). Decisions are single statements in
their own transactions and leave no session state behind, so a connection that just served
one can serve the next as is. A connection is kept only while healthy and only for a short
idle period; it never carries a transaction or a lock between decisions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg


class WarmConnections:
    """Up to `keep` recently used pool connections (by default at most half the pool, so
    others sharing it are never starved), returned to the pool after `idle_seconds` without
    use or on `release_all()`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        keep: int | None = None,
        idle_seconds: float = 0.05,
        acquire_timeout: float = 10.0,
    ) -> None:
        self._pool = pool
        self._keep = min(4, pool.get_max_size() // 2) if keep is None else keep
        self._idle_seconds = idle_seconds
        self._acquire_timeout = acquire_timeout
        self._idle: list[Any] = []  # PoolConnectionProxy objects
        self._last_used = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._releasing: set[asyncio.Task[None]] = set()

    @property
    def idle(self) -> int:
        return len(self._idle)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """A connection for one statement. If the body fails, the connection goes back to
        the pool, which resets it or, when it is broken, replaces it."""
        if self._idle:
            conn = self._idle.pop()
        else:
            conn = await self._pool.acquire(timeout=self._acquire_timeout)
        reusable = False
        try:
            yield conn
            reusable = not conn.is_closed() and not conn.is_in_transaction()
        finally:
            if reusable and len(self._idle) < self._keep:
                self._idle.append(conn)
                self._last_used = time.monotonic()
                self._arm()
            else:
                await self._pool.release(conn)

    async def release_all(self) -> None:
        """Give every kept connection back to the pool now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        idle, self._idle = self._idle, []
        for conn in idle:
            await self._pool.release(conn)

    def _arm(self) -> None:
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._idle_seconds, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if not self._idle:
            return
        waited = time.monotonic() - self._last_used
        if waited < self._idle_seconds:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._idle_seconds - waited, self._expire)
            return
        task = asyncio.get_running_loop().create_task(self.release_all())
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)
