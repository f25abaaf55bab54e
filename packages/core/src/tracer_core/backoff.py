"""Jittered exponential backoff, the one formula every retry loop in Tracer uses.

"Equal jitter": the wait after the n-th failure is drawn from [ceiling/2, ceiling], where the
ceiling doubles per failure up to a cap. Half the step is fixed, so a retry never comes at
once; half is random, so replicas retrying the same thing after an outage do not all knock
together.
"""

from __future__ import annotations

import random


def jittered_delay(failures: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after the `failures`-th consecutive failure (1-based; 0 counts as 1)."""
    ceiling = min(cap, base * 2.0 ** min(max(failures - 1, 0), 30))
    return rng.uniform(ceiling / 2.0, ceiling)
