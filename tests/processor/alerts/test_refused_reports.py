"""A report the database refuses for its content is repaired and stored, never dropped; one
that cannot be stored even then is counted and logged loudly."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from tests.processor.alerts.test_store import candidate
from tracer_core.models import Alert, AlertStatus
from tracer_processor.alerts.reports import AlertCandidate, Decision, Recovery, StoreResult
from tracer_processor.alerts.retry import RefusedAlertError
from tracer_processor.alerts.store import PostgresAlertStore
from tracer_processor.alerts.writer import AlertWriter


async def test_a_nul_in_the_error_samples_still_opens_the_alert(pool: asyncpg.Pool) -> None:
    samples = [{"message": "payment failed\u0000 \u001b[31m", "count": 100}]
    details = {"observed": 1.0, "samples": samples, "bad\u0000key": "x\u0000"}
    writer = AlertWriter(PostgresAlertStore(pool, processor_id="p1"))
    await writer.start()
    writer.submit(candidate(0, details=details))
    await writer.stop(timeout=10)
    assert (writer.written, writer.rejected, writer.unstorable) == (1, 0, 0)
    row = await pool.fetchrow("SELECT status, details::text AS details FROM alerts")
    assert row is not None
    assert row["status"] == "open"
    assert "payment failed\\\\u0000" in row["details"]


class RefusingStore:
    """Refuses reports whose details hold text, `refusals` times in all."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.stored: list[AlertCandidate | Recovery] = []

    async def report(self, item: AlertCandidate) -> StoreResult:
        return self._take(item)

    async def recover(self, item: Recovery) -> StoreResult:
        return self._take(item)

    def _take(self, item: AlertCandidate | Recovery) -> StoreResult:
        if self.refusals:
            self.refusals -= 1
            raise RefusedAlertError("the database refused the report: invalid input")
        self.stored.append(item)
        return StoreResult(Decision.OPENED, 1)

    async def list_alerts(
        self, *, status: AlertStatus | None, service: str | None, limit: int
    ) -> list[Alert]:
        return []


async def test_a_refused_report_is_stored_repaired_with_its_numbers() -> None:
    store = RefusingStore(refusals=1)
    writer = AlertWriter(store)
    await writer.start()
    writer.submit(candidate(0, details={"observed": 0.9, "samples": ["x"], "z": float("nan")}))
    await writer.stop(timeout=10)
    assert (writer.written, writer.repaired, writer.unstorable, writer.dropped) == (1, 1, 0, 0)
    [stored] = store.stored
    assert isinstance(stored, AlertCandidate)
    assert stored.details == {"observed": 0.9, "details_repaired": True}
    assert stored.fingerprint == candidate(0).fingerprint


async def test_a_report_refused_even_repaired_is_counted_and_logged_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = AlertWriter(RefusingStore(refusals=2))
    await writer.start()
    with caplog.at_level(logging.ERROR, logger="tracer_processor.alerts.writer"):
        writer.submit(candidate(0))
        await writer.stop(timeout=10)
    assert (writer.written, writer.unstorable) == (0, 1)
    assert any("ALERT LOST" in record.getMessage() for record in caplog.records)
