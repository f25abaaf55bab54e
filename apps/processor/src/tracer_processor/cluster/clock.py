"""The processing clock of a clustered processor.

A processor that consumes a backlog (after taking a partition over, or after a pause) must
see the records as the live stream did: if it used the wall clock, the first replayed
message would close every bucket older than `now - lateness`, and the rest of the backlog
would arrive late and be lost. So while it is behind, its clock is the receiver's accept
time of the newest message folded in; once it has caught up, the wall clock again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tracer_core.clock import Clock


class StreamClock:
    def __init__(self, wall: Clock) -> None:
        self._wall = wall
        self._position = float("-inf")  # newest accept time folded in
        self.behind = False

    def advance(self, accepted_at: float, *, caught_up: bool) -> None:
        """A message accepted at `accepted_at` is about to be folded in."""
        self._position = max(self._position, accepted_at)
        self.behind = not caught_up

    def caught_up(self) -> None:
        self.behind = False

    def now(self) -> datetime:
        wall = self._wall.now()
        if self.behind and self._position < wall.timestamp():
            return datetime.fromtimestamp(self._position, UTC)
        return wall

    def monotonic(self) -> float:
        return self._wall.monotonic()
