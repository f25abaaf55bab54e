"""How long a failed delivery waits before its next try, and when it stops trying."""

from __future__ import annotations

import random
from dataclasses import dataclass

from tracer_core.backoff import jittered_delay


@dataclass(frozen=True, slots=True)
class Backoff:
    base_seconds: float
    max_seconds: float
    max_attempts: int

    def delay(self, attempt: int, rng: random.Random) -> float | None:
        """Seconds before try number `attempt + 1`, or None when `attempt` was the last."""
        if attempt >= self.max_attempts:
            return None
        return jittered_delay(attempt, base=self.base_seconds, cap=self.max_seconds, rng=rng)
