"""LISTEN on `tracer_alerts` so that a committed alert wakes the worker at once.

The notification is only a hint: the worker also polls, so a notification lost while the
connection was down delays a delivery by at most one poll interval, never loses it.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from tracer_core.db import connect

log = logging.getLogger(__name__)

CHANNEL = "tracer_alerts"
_PING_SECONDS = 30.0


class AlertListener:
    def __init__(self, database_url: str, wake: asyncio.Event) -> None:
        self._database_url = database_url
        self._wake = wake
        self.connected = asyncio.Event()

    def _notified(self, conn: object, pid: int, channel: str, payload: object) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Keep a listening connection open until cancelled, reconnecting with backoff."""
        delay = 0.5
        while True:
            try:
                await self._listen_once()
                delay = 0.5
                log.warning("the LISTEN connection closed; reconnecting")
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("cannot LISTEN on %s (%s); retrying in %.1f s", CHANNEL, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _listen_once(self) -> None:
        lost = asyncio.Event()
        conn = await connect(self._database_url, application_name="tracer-agent-listen")
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(CHANNEL, self._notified)
            self.connected.set()
            self._wake.set()  # anything committed while we were away is due now
            while not lost.is_set():
                try:
                    await asyncio.wait_for(lost.wait(), _PING_SECONDS)
                except TimeoutError:
                    # An idle socket to a vanished server looks healthy until it is used.
                    await conn.execute("SELECT 1", timeout=5.0)
        finally:
            self.connected.clear()
            if not conn.is_closed():
                await conn.close(timeout=2)
