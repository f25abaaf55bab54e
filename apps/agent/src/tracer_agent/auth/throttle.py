"""A limit on failed authentications per client address.

Every wrong key costs a database query and a log line; an address that keeps guessing is
answered 429 without either until its window passes. Counting is in memory, per replica:
it slows guessing down, it is not an account lockout (valid keys from other addresses are
never affected).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

from tracer_core.clock import Clock, SystemClock

MAX_TRACKED_ADDRESSES = 10_000


@dataclass
class _Window:
    started: float
    failures: int


class FailedAuthLimiter:
    def __init__(
        self,
        *,
        max_failures: int = 20,
        window_seconds: float = 60.0,
        clock: Clock | None = None,
    ) -> None:
        self._max = max_failures
        self._window = window_seconds
        self._clock = clock or SystemClock()
        self._by_address: OrderedDict[str, _Window] = OrderedDict()

    def _current(self, address: str) -> _Window | None:
        window = self._by_address.get(address)
        if window is None:
            return None
        if self._clock.monotonic() - window.started >= self._window:
            del self._by_address[address]
            return None
        return window

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None when it may try now."""
        window = self._current(address)
        if window is None or window.failures < self._max:
            return None
        left = window.started + self._window - self._clock.monotonic()
        return max(1, math.ceil(left))

    def failed(self, address: str) -> None:
        window = self._current(address)
        if window is None:
            window = _Window(started=self._clock.monotonic(), failures=0)
            self._by_address[address] = window
            while len(self._by_address) > MAX_TRACKED_ADDRESSES:
                self._by_address.popitem(last=False)
        window.failures += 1
