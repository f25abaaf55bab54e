"""Reading a JetStream pull consumer with our own pull requests, on one inbox.

The client library's `fetch` waits for each message with `asyncio.wait_for` (a task and a
timer per message) and parses the whole acknowledgement subject of each one; with a
request's records spread over dozens of small messages that costs more than folding the
records in. Here one subscription callback appends the messages of a pull to a list and
wakes the reader once the pull is complete (the batch is full, or the server ends it with a
status: 404 nothing left, 408 expired, 409 ...). Only the stream sequence and the pending
count are read from the subject. Messages arriving after a pull was given up wait in the
list for the next one (they are still in stream order).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import orjson
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js.api import ConsumerConfig
from nats.js.errors import Error as JetStreamError

_V1_TOKENS = 9  # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
_V2_MIN_TOKENS = 11  # $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>...


@dataclass(frozen=True, slots=True)
class Pulled:
    subject: str
    sequence: int  # the message's stream sequence
    pending: int  # messages left for the consumer after this one
    data: bytes


def position(reply: str) -> tuple[int, int] | None:
    """(stream sequence, pending) from a JetStream acknowledgement subject."""
    tokens = reply.split(".")
    try:
        if len(tokens) == _V1_TOKENS:
            return int(tokens[5]), int(tokens[8])
        if len(tokens) >= _V2_MIN_TOKENS:
            return int(tokens[7]), int(tokens[10])
    except ValueError:
        return None
    return None


class PullFeed:
    """One pull consumer on a stream, read a batch at a time."""

    def __init__(self, nc: NatsClient, stream: str) -> None:
        self._nc = nc
        self._stream = stream
        self._consumer = ""
        self._next_subject = ""
        self._inbox = ""
        self._sub: Subscription | None = None
        self._arrived: list[Pulled] = []
        self._want = 0
        self._wake: asyncio.Event = asyncio.Event()

    async def open(self, config: ConsumerConfig) -> None:
        info = await self._nc.jetstream().add_consumer(self._stream, config=config)
        self._consumer = str(info.name)
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{self._stream}.{self._consumer}"
        self._inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(self._inbox, cb=self._on_message)

    async def close(self) -> None:
        sub, self._sub = self._sub, None
        self._arrived = []
        if sub is None:
            return
        with contextlib.suppress(NatsError, JetStreamError, OSError):
            await sub.unsubscribe()
            await self._nc.jetstream().delete_consumer(self._stream, self._consumer)

    async def fetch(self, batch: int, wait_seconds: float) -> list[Pulled]:
        """Up to `batch` messages: what is there at once, else whatever arrives within
        `wait_seconds` (an empty list when nothing does)."""
        if self._arrived:
            return self._take(batch)
        await self._pull(batch, {"batch": batch, "no_wait": True}, wait_seconds)
        if not self._arrived:  # nothing there now: wait on the server for the first
            expires = int(wait_seconds * 1e9)
            await self._pull(1, {"batch": batch, "expires": expires}, wait_seconds + 1.0)
        return self._take(batch)

    def _take(self, batch: int) -> list[Pulled]:
        taken, self._arrived = self._arrived[:batch], self._arrived[batch:]
        return taken

    async def _pull(self, enough: int, request: dict[str, object], within: float) -> None:
        """Send one pull request; return once `enough` messages have arrived, the server
        ended the pull, or `timeout` passed."""
        self._want = enough
        self._wake.clear()
        await self._nc.publish(self._next_subject, orjson.dumps(request), reply=self._inbox)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._wake.wait()

    async def _on_message(self, msg: Msg) -> None:
        if not msg.reply:  # a status: the pull ended (404, 408, 409) or a heartbeat (100)
            status = msg.headers.get("Status") if msg.headers else None
            if status != "100":
                self._wake.set()
            return
        at = position(msg.reply)
        if at is None:  # not a JetStream delivery: nothing of ours
            return
        self._arrived.append(Pulled(msg.subject, at[0], at[1], msg.data))
        if len(self._arrived) >= self._want:
            self._wake.set()
