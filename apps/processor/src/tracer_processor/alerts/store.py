"""The PostgreSQL alert store: one alert per incident across every processor replica.

Each detection or recovery is one call of a SQL function (migrations 0010 and 0011) in its
own transaction. The function takes a transaction-scoped advisory lock on the fingerprint, reads
the latest alert for it and decides on the database clock whether the report opens a new
alert, merges into (or escalates) the one that covers it, reopens a recently resolved one, or
resolves it; the alert row, the outbox event and the report's receipt commit together. Nothing
is held between statements, so a processor that dies at any instant leaves no lock behind,
and the partial unique index on open alerts backs the lock up.

The processor's own clock never enters a decision: only the event-time windows come from it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from typing import Any

import asyncpg

from tracer_core.models import Alert, AlertStatus
from tracer_processor.alerts.connections import WarmConnections
from tracer_processor.alerts.payload import candidate_payload, finite_json, recovery_payload
from tracer_processor.alerts.reports import AlertCandidate, Decision, Recovery, StoreResult
from tracer_processor.alerts.retry import (
    AlertStoreUnavailableError,
    RefusedAlertError,
    RetryPolicy,
    backoff_sleep,
    is_transient,
)

log = logging.getLogger(__name__)

_REPORT = """
SELECT decision, alert_id FROM tracer_report_alert(
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
"""
_RECOVER = "SELECT decision, alert_id FROM tracer_recover_alert($1, $2, $3, $4)"
_LIST = """
SELECT id, fingerprint, project, service, alert_type, severity, status, title, window_start,
       window_end, first_seen_at, last_seen_at, resolved_at, occurrences, details
FROM alerts
WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR service = $2)
ORDER BY id DESC
LIMIT $3
"""
_PRUNE = "DELETE FROM alert_reports WHERE created_at < now() - make_interval(secs => $1)"

MAX_LIST_LIMIT = 1000


def _setting(name: str, value: float, *, upper: float = 30 * 86_400) -> float:
    if not math.isfinite(value) or not 0.0 <= value <= upper:
        raise ValueError(f"{name} must be a finite number of seconds in [0, {upper:g}]")
    return float(value)


class PostgresAlertStore:
    """`AlertStore` on PostgreSQL, safe for any number of replicas sharing one database.

    `dedup_window_seconds + clock_skew_seconds` is how long, in database time, a resolved
    alert still absorbs detections that are not newer than its recovery; within
    `flap_window_seconds` of resolving, a new detection reopens the alert instead of opening
    another one.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        processor_id: str,
        dedup_window_seconds: float = 5.0,
        clock_skew_seconds: float = 3.0,
        flap_window_seconds: float = 300.0,
        retry: RetryPolicy | None = None,
        statement_timeout: float = 10.0,
        report_retention_seconds: float = 86_400.0,
        prune_every_seconds: float = 300.0,
        rng: random.Random | None = None,
    ) -> None:
        if not processor_id or len(processor_id) > 200:
            raise ValueError("processor_id must be 1 to 200 characters")
        self._pool = pool
        self.processor_id = processor_id
        self.covered_seconds = _setting("dedup_window_seconds", dedup_window_seconds) + _setting(
            "clock_skew_seconds", clock_skew_seconds
        )
        self.flap_window_seconds = _setting("flap_window_seconds", flap_window_seconds)
        self._retry = retry or RetryPolicy()
        self._timeout = _setting("statement_timeout", statement_timeout, upper=3600)
        self._retention = _setting("report_retention_seconds", report_retention_seconds)
        self._rng = rng or random.Random()
        self._connections = WarmConnections(pool, acquire_timeout=self._timeout)
        self._prune_every = _setting("prune_every_seconds", prune_every_seconds)
        self._last_prune = time.monotonic()
        self._pruning: asyncio.Task[None] | None = None
        self.retries = 0  # transient failures retried inside the store

    async def report(self, candidate: AlertCandidate) -> StoreResult:
        """Decide what a detection means for its incident (opened, merged, escalated, ...)."""
        p = candidate_payload(self.processor_id, candidate)
        return await self._decide(
            _REPORT,
            p.report_id,
            self.processor_id,
            p.fingerprint,
            p.project,
            p.service,
            p.alert_type.value,
            p.severity.value,
            p.title,
            p.window_start,
            p.window_end,
            p.details,
            self.covered_seconds,
            self.flap_window_seconds,
        )

    async def recover(self, recovery: Recovery) -> StoreResult:
        """Resolve the open alert of the recovered metric, unless it has newer evidence."""
        p = recovery_payload(self.processor_id, recovery)
        return await self._decide(_RECOVER, p.report_id, p.fingerprint, p.window_end, p.details)

    async def list_alerts(
        self, *, status: AlertStatus | None, service: str | None, limit: int
    ) -> list[Alert]:
        """Newest first; `limit` between 1 and 1000."""
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= MAX_LIST_LIMIT
        ):
            raise ValueError(f"limit must be an integer between 1 and {MAX_LIST_LIMIT}")
        state = AlertStatus(status).value if status is not None else None
        rows = await self._pool.fetch(_LIST, state, service, limit, timeout=self._timeout)
        return [_alert(row) for row in rows]

    async def close(self) -> None:
        """Hand the connections kept between decisions back to the pool (they also go back
        on their own after 50 ms without decisions)."""
        if self._pruning is not None:
            await asyncio.gather(self._pruning, return_exceptions=True)
        await self._connections.release_all()

    async def prune_reports(self) -> int:
        """Forget report receipts older than the retention; returns how many went."""
        result = await self._pool.execute(_PRUNE, self._retention, timeout=self._timeout)
        return int(result.split()[-1]) if result.startswith("DELETE") else 0

    async def _decide(self, sql: str, *args: Any) -> StoreResult:
        failures = 0
        while True:
            try:
                async with self._connections.connection() as conn:
                    row = await conn.fetchrow(sql, *args, timeout=self._timeout)
                break
            except (asyncpg.exceptions.DataError, asyncpg.exceptions.CheckViolationError) as exc:
                raise RefusedAlertError(f"the database refused the report: {exc}") from exc
            except Exception as exc:
                if not is_transient(exc):
                    raise
                failures += 1
                if failures >= self._retry.attempts:
                    raise AlertStoreUnavailableError(
                        f"alert decision failed {failures} times; last error: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                self.retries += 1
                log.debug("retrying alert decision after %s: %s", type(exc).__name__, exc)
                await backoff_sleep(self._retry, failures, self._rng)
        if row is None:  # the functions always return one row
            raise AlertStoreUnavailableError("the alert decision returned no row")
        self._maybe_prune()
        return StoreResult(Decision(row["decision"]), row["alert_id"])

    def _maybe_prune(self) -> None:
        """Every few minutes, forget old receipts in the background (never on the way of a
        decision)."""
        now = time.monotonic()
        if now - self._last_prune < self._prune_every or self._pruning is not None:
            return
        self._last_prune = now
        self._pruning = asyncio.get_running_loop().create_task(self._prune_quietly())

    async def _prune_quietly(self) -> None:
        try:
            pruned = await self.prune_reports()
        except Exception as exc:  # housekeeping only; the next round tries again
            log.debug("pruning alert report receipts failed: %s", exc)
        else:
            log.debug("pruned %s alert report receipts", pruned)
        finally:
            self._pruning = None


def _alert(row: asyncpg.Record) -> Alert:
    details = finite_json(row["details"])
    return Alert(
        id=row["id"],
        fingerprint=row["fingerprint"],
        project=row["project"],
        service=row["service"],
        alert_type=row["alert_type"],
        severity=row["severity"],
        status=row["status"],
        title=row["title"],
        window_start=row["window_start"],
        window_end=row["window_end"],
        first_seen_at=row["first_seen_at"],
        last_seen_at=row["last_seen_at"],
        resolved_at=row["resolved_at"],
        occurrences=row["occurrences"],
        details=details if isinstance(details, dict) else {},
    )
