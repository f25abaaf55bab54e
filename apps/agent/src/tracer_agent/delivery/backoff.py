"""Retry delays: exponential, capped, with jitter so that replicas retrying the same
destination after an outage do not all knock at once."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    base_seconds: float
    max_seconds: float
    max_attempts: int

    def delay(self, attempt: int, rng: random.Random) -> float | None:
        """Seconds before try number `attempt + 1`, or None when `attempt` was the last.

        "Equal jitter": half the exponential step is fixed, half is random, so a retry never
        comes immediately and never later than the cap.
        """
        if attempt >= self.max_attempts:
            return None
        step = min(self.max_seconds, self.base_seconds * 2.0 ** min(max(attempt - 1, 0), 30))
        return step / 2.0 + rng.uniform(0.0, step / 2.0)
