"""JetStream publish acknowledgements, read off one inbox subscription.

A receiver publishes several messages per request (one per partition), each awaiting
JetStream's acknowledgement. The client library's `publish_async` pays for a semaphore, a
token, a dataclass per acknowledgement and more on every message; at a few dozen messages
per request that cost more than the rest of the publishing. Here each message gets a reply
subject under one inbox, and the answer is parsed just enough: stored, stored earlier (a
duplicate of a retried request), or refused with JetStream's error.
"""

from __future__ import annotations

import asyncio
import itertools

import orjson
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

NO_RESPONDERS = "503"  # the status of a reply when no stream listens on the subject


class PublishRefusedError(Exception):
    """JetStream answered a publish with an error (stream full, limits, no stream...)."""


class AckInbox:
    def __init__(self, nc: NatsClient) -> None:
        self._nc = nc
        self._prefix = ""
        self._waiting: dict[str, asyncio.Future[bool]] = {}
        self._numbers = itertools.count()
        self._started: asyncio.Lock | None = None

    async def reply_subject(self) -> tuple[str, asyncio.Future[bool]]:
        """A reply subject for one publish, and the future of its acknowledgement: True
        when JetStream already held the message (a duplicate), False when it stored it."""
        if not self._prefix:
            await self._start()
        subject = f"{self._prefix}.{next(self._numbers)}"
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting[subject] = future
        return subject, future

    def forget(self, subjects: list[str]) -> None:
        """Stop waiting for these replies (the request gave up)."""
        for subject in subjects:
            future = self._waiting.pop(subject, None)
            if future is not None and not future.done():
                future.cancel()

    async def _start(self) -> None:
        if self._started is None:
            self._started = asyncio.Lock()
        async with self._started:
            if not self._prefix:
                prefix = self._nc.new_inbox()
                await self._nc.subscribe(f"{prefix}.*", cb=self._on_reply)
                self._prefix = prefix

    async def _on_reply(self, msg: Msg) -> None:
        future = self._waiting.pop(msg.subject, None)
        if future is None or future.done():
            return
        if msg.headers and msg.headers.get("Status") == NO_RESPONDERS:
            future.set_exception(PublishRefusedError("no stream listens on the subject"))
            return
        try:
            answer = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            future.set_exception(PublishRefusedError("unreadable acknowledgement"))
            return
        error = answer.get("error") if isinstance(answer, dict) else None
        if error is not None or not isinstance(answer, dict) or "seq" not in answer:
            description = error.get("description") if isinstance(error, dict) else error
            future.set_exception(PublishRefusedError(str(description or answer)))
            return
        future.set_result(bool(answer.get("duplicate")))
