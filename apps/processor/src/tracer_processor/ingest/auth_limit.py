"""A limit on failed authentications per client address.

Every unknown key costs a database query and a log line; a client that keeps failing is
answered 429 (with `Retry-After`) without either, until its window passes. Bounded memory:
the least recently failing addresses are forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from tracer_core.clock import Clock

MAX_ADDRESSES = 10_000


@dataclass(slots=True)
class _Failures:
    count: int
    window_start: float


class FailedAuthLimiter:
    def __init__(self, *, clock: Clock, max_failures: int = 20, window_seconds: float = 60.0):
        self._clock = clock
        self._max = max_failures
        self._window = window_seconds
        self._by_address: OrderedDict[str, _Failures] = OrderedDict()

    def retry_after(self, address: str) -> int | None:
        """Seconds the address must wait before trying again, or None when it may try."""
        entry = self._by_address.get(address)
        if entry is None:
            return None
        elapsed = self._clock.monotonic() - entry.window_start
        if elapsed >= self._window:
            del self._by_address[address]
            return None
        if entry.count < self._max:
            return None
        return max(1, int(self._window - elapsed + 0.999))

    def failed(self, address: str) -> None:
        now = self._clock.monotonic()
        entry = self._by_address.get(address)
        if entry is None or now - entry.window_start >= self._window:
            entry = self._by_address[address] = _Failures(0, now)
        entry.count += 1
        self._by_address.move_to_end(address)
        while len(self._by_address) > MAX_ADDRESSES:
            self._by_address.popitem(last=False)
