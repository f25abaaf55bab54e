"""Property test: any interleaving of detections, recoveries and passing database time gives
the same decisions and the same alerts as a plain sequential model of the dedup rules.

Times are whole seconds and the thresholds (5 s + 3 s, 300 s) are whole seconds too, so the
few milliseconds the database really spends between steps can never cross a threshold.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.processor.alerts.test_store import BUCKET, T0
from tracer_core.db import create_pool
from tracer_core.models import AlertType, Severity
from tracer_processor.alerts.reports import AlertCandidate, Decision, Recovery
from tracer_processor.alerts.store import PostgresAlertStore

COVERED = 8  # dedup window 5 s + clock skew 3 s
FLAP = 300
RANKS = list(Severity)


@dataclass(frozen=True)
class Report:
    processor: str
    service: str
    start: int  # buckets after T0
    length: int
    severity: int


@dataclass(frozen=True)
class Recover:
    processor: str
    service: str
    end: int


@dataclass(frozen=True)
class Wait:
    seconds: int


Step = Report | Recover | Wait


@dataclass
class ModelAlert:
    key: int
    service: str
    start: int
    end: int
    severity: int
    open: bool = True
    since_resolved: int = 0
    recovered_through: int | None = None
    occurrences: int = 1
    reopen_count: int = 0
    reporters: Counter[str] = field(default_factory=Counter)


class Model:
    """The deduplication rules (docs/architecture.md), one step at a time."""

    def __init__(self) -> None:
        self.alerts: list[ModelAlert] = []
        self.events: list[tuple[int, str, int]] = []
        self.receipts: dict[tuple[object, ...], tuple[Decision, int | None]] = {}

    def _of(self, service: str) -> list[ModelAlert]:
        return [a for a in self.alerts if a.service == service]

    @staticmethod
    def _covers(a: ModelAlert, start: int, end: int) -> bool:
        span_end = max(a.end, a.recovered_through) if a.recovered_through is not None else a.end
        return (start < span_end and end > a.start) or start == a.start

    def wait(self, seconds: int) -> None:
        for a in self.alerts:
            if not a.open:
                a.since_resolved += seconds

    def report(self, r: Report) -> tuple[Decision, int | None]:
        receipt = (r.processor, "report", r.service, r.start, r.length, r.severity)
        if receipt in self.receipts:
            return self.receipts[receipt]
        start, end = r.start * 10, (r.start + r.length) * 10
        mine = self._of(r.service)
        target: ModelAlert | None = None
        decision: Decision | None = None
        latest = mine[-1] if mine else None
        if latest is None:
            decision = Decision.OPENED
        elif self._covers(latest, start, end):
            target = latest
        else:
            if end <= latest.start:
                older = [a for a in mine[:-1] if self._covers(a, start, end)]
                if older:
                    target, decision = older[-1], Decision.MERGED
            if decision is not None:
                pass
            elif latest.open or (
                latest.since_resolved < COVERED
                and (latest.recovered_through is None or start < latest.recovered_through)
            ):
                target = latest
            elif latest.since_resolved < FLAP:
                target, decision = latest, Decision.REOPENED
            else:
                decision = Decision.OPENED
        if decision is None:
            assert latest is not None
            rises = latest.open and r.severity > latest.severity
            decision = Decision.ESCALATED if rises else Decision.MERGED
        if decision is Decision.OPENED:
            target = ModelAlert(len(self.alerts), r.service, start, end, r.severity)
            target.reporters[r.processor] = 1
            self.alerts.append(target)
        else:
            assert target is not None
            target.occurrences += 1
            target.reporters[r.processor] += 1
            target.start, target.end = min(target.start, start), max(target.end, end)
            target.severity = max(target.severity, r.severity)
            if decision is Decision.REOPENED:
                target.open, target.since_resolved = True, 0
                target.recovered_through = None
                target.reopen_count += 1
        if decision in (Decision.OPENED, Decision.ESCALATED, Decision.REOPENED):
            self.events.append((target.key, decision.value, target.severity))
        self.receipts[receipt] = (decision, target.key)
        return decision, target.key

    def recover(self, r: Recover) -> tuple[Decision, int | None]:
        receipt = (r.processor, "recover", r.service, r.end)
        if receipt in self.receipts:
            return self.receipts[receipt]
        end = r.end * 10
        opened = [a for a in self._of(r.service) if a.open]
        result: tuple[Decision, int | None]
        if not opened:
            result = (Decision.IGNORED, None)
        elif end <= opened[0].end:
            result = (Decision.IGNORED, opened[0].key)
        else:
            a = opened[0]
            a.open, a.since_resolved, a.recovered_through = False, 0, end
            self.events.append((a.key, "resolved", a.severity))
            result = (Decision.RESOLVED, a.key)
        self.receipts[receipt] = result
        return result


processors = st.sampled_from(["p1", "p2", "p3"])
services = st.sampled_from(["api", "db"])
waits = st.sampled_from([1, 3, 7, 10, 60, 400])


@st.composite
def scripts(draw: st.DrawFn) -> list[Step]:
    """Event time mostly moves forward, with stragglers, recoveries and pauses mixed in, as
    replicas that see the same traffic at different speeds would report it."""
    kinds = draw(
        st.lists(
            st.sampled_from(["report"] * 4 + ["recover"] * 2 + ["wait"] * 2),
            min_size=3,
            max_size=30,
        )
    )
    cursor = 0  # buckets after T0: the newest event time reported so far
    script: list[Step] = []
    for kind in kinds:
        if kind == "wait":
            script.append(Wait(draw(waits)))
        elif kind == "report":
            start = max(0, cursor + draw(st.sampled_from([-9, -6, -3, -2, -1, 0, 0, 1])))
            length = draw(st.integers(1, 3))
            severity = draw(st.integers(0, 3))
            script.append(Report(draw(processors), draw(services), start, length, severity))
            cursor = max(cursor, start + length)
        else:
            end = max(0, cursor + draw(st.integers(-1, 3)))
            script.append(Recover(draw(processors), draw(services), end))
            cursor = max(cursor, end)
    return script


async def _replay(database_url: str, script: list[Step]) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        await pool.execute("TRUNCATE alerts, alert_events, alert_reports RESTART IDENTITY CASCADE")
        stores = {
            p: PostgresAlertStore(pool, processor_id=p, flap_window_seconds=FLAP)
            for p in ("p1", "p2", "p3")
        }
        model = Model()
        ids: dict[int, int] = {}  # model alert key -> database id
        for step in script:
            if isinstance(step, Wait):
                model.wait(step.seconds)
                await _age(pool, step.seconds)
                continue
            if isinstance(step, Report):
                expected = model.report(step)
                got = await stores[step.processor].report(_candidate(step))
            else:
                expected = model.recover(step)
                got = await stores[step.processor].recover(_recovery(step))
            assert got.decision is expected[0], (step, got, expected)
            if expected[1] is None:
                assert got.alert_id is None
            else:
                assert got.alert_id is not None
                assert ids.setdefault(expected[1], got.alert_id) == got.alert_id
        await _compare(pool, model, ids)
    finally:
        await pool.close()


async def _age(pool: asyncpg.Pool, seconds: int) -> None:
    await pool.execute(
        "UPDATE alerts SET resolved_at = resolved_at - make_interval(secs => $1) "
        "WHERE resolved_at IS NOT NULL",
        seconds,
    )


async def _compare(pool: asyncpg.Pool, model: Model, ids: dict[int, int]) -> None:
    rows = {r["id"]: r for r in await pool.fetch("SELECT * FROM alerts")}
    assert len(rows) == len(model.alerts)
    for a in model.alerts:
        row = rows[ids[a.key]]
        assert row["status"] == ("open" if a.open else "resolved")
        assert row["severity"] == RANKS[a.severity].value
        assert row["window_start"] == T0 + timedelta(seconds=a.start)
        assert row["window_end"] == T0 + timedelta(seconds=a.end)
        assert row["occurrences"] == a.occurrences
        assert row["reopen_count"] == a.reopen_count
        assert row["reporters"] == dict(a.reporters)
    events = await pool.fetch("SELECT alert_id, kind, severity FROM alert_events ORDER BY id")
    expected = [(ids[k], kind, RANKS[sev].value) for k, kind, sev in model.events]
    assert [(e["alert_id"], e["kind"], e["severity"]) for e in events] == expected
    open_per_service = await pool.fetch(
        "SELECT service, count(*) FROM alerts WHERE status = 'open' GROUP BY service"
    )
    assert all(r["count"] == 1 for r in open_per_service)


def _candidate(step: Report) -> AlertCandidate:
    start = T0 + step.start * BUCKET
    return AlertCandidate(
        project="shop",
        service=step.service,
        alert_type=AlertType.ERROR_SPIKE,
        severity=RANKS[step.severity],
        title=f"errors on {step.service}",
        window_start=start,
        window_end=start + step.length * BUCKET,
    )


def _recovery(step: Recover) -> Recovery:
    return Recovery(
        project="shop",
        service=step.service,
        alert_type=AlertType.ERROR_SPIKE,
        window_end=T0 + step.end * BUCKET,
    )


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=scripts())
# A detection older than the whole incident: merged within 8 s of database time, not after.
@example(
    script=[
        Report("p1", "api", 5, 1, 1),
        Recover("p1", "api", 9),
        Wait(7),
        Report("p2", "api", 2, 1, 1),
        Wait(3),
        Report("p3", "api", 1, 1, 1),
    ]
)
# A straggler of an earlier incident goes to that incident, not to the newer alert.
@example(
    script=[
        Report("p1", "db", 0, 2, 0),
        Recover("p1", "db", 4),
        Wait(400),
        Report("p1", "db", 20, 1, 0),
        Report("p2", "db", 1, 1, 2),
        Recover("p2", "db", 4),
    ]
)
def test_store_matches_the_sequential_model(database_url: str, script: list[Step]) -> None:
    asyncio.run(_replay(database_url, script))
