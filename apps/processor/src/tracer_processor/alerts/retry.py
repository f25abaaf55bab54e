"""Which database failures are worth retrying, and how long to wait between attempts.

Exception tree of the alert store::

    AlertStoreError
     ├── AlertStoreUnavailableError   the database could not take the decision now (lost
     │                           connection, serialization failure, deadlock, shutdown,
     │                           timeout) even after the bounded retries; try again later
     └── InvalidAlertError       the detection itself is unusable; retrying cannot help
          └── RefusedAlertError  the database refused its content (e.g. jsonb and NUL);
                                 the writer repairs the report and sends it again

A decision is one statement in its own transaction, and every report carries a digest of
its content, so re-running it after any of the transient failures below is safe: if the
first attempt committed and only its acknowledgement was lost, the retry gets the first
attempt's decision back.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

import asyncpg

from tracer_core.backoff import jittered_delay


class AlertStoreError(Exception):
    """Base class of the alert store's errors."""


class AlertStoreUnavailableError(AlertStoreError):
    """The database could not take the decision; the caller should keep it and retry."""


class InvalidAlertError(AlertStoreError, ValueError):
    """The detection or recovery is malformed (bad window, unknown type, ...)."""


class RefusedAlertError(InvalidAlertError):
    """PostgreSQL refused the report's data (an encoding or a check); a repaired copy of
    the report may still be stored."""


_TRANSIENT: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.TransactionRollbackError,  # 40001 serialization, 40P01 deadlock
    asyncpg.exceptions.PostgresConnectionError,  # 08xxx: the connection broke
    asyncpg.exceptions.OperatorInterventionError,  # 57xxx: terminated, shutting down, canceled
    asyncpg.exceptions.InsufficientResourcesError,  # 53xxx: too many connections, disk full
    asyncpg.exceptions.LockNotAvailableError,  # 55P03
    # Only reachable if a writer bypassed the fingerprint lock; a retry re-decides and merges.
    asyncpg.exceptions.UniqueViolationError,
    OSError,  # refused, reset, unreachable
    TimeoutError,  # pool acquire or statement timeout
)


def is_transient(exc: BaseException) -> bool:
    """True for failures of the database or the network, not of the request."""
    if isinstance(exc, _TRANSIENT):
        return True
    if isinstance(exc, asyncpg.exceptions.InterfaceError):
        # e.g. "connection is closed" / "pool is closing": the client side lost the link.
        text = str(exc).lower()
        return "closed" in text or "connection" in text
    return False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter (each wait drawn from [ceiling/2, ceiling]).

    `attempts` bounds the tries of one decision inside the store; a caller such as the
    `AlertWriter` keeps the detection and tries again later when they are exhausted.
    """

    attempts: int = 5
    base_delay: float = 0.01
    max_delay: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if not (0.0 <= self.base_delay <= self.max_delay) or self.max_delay > 3600:
            raise ValueError("need 0 <= base_delay <= max_delay <= 3600 seconds")

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after the `failures`-th consecutive failure (1-based)."""
        return jittered_delay(failures, base=self.base_delay, cap=self.max_delay, rng=rng)


async def backoff_sleep(policy: RetryPolicy, failures: int, rng: random.Random) -> None:
    await asyncio.sleep(policy.delay(failures, rng))
