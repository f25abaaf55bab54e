"""The dedup chaos suite: replica processes SIGKILLed and cut off mid-transaction against a
real PostgreSQL. CI runs a few dozen seeded trials; `tracer chaos --trials 1000` runs the
full count."""

from __future__ import annotations

import os

import asyncpg
import pytest
from typer.testing import CliRunner

from tracer.chaos.plan import make_plan
from tracer.chaos.runner import ChaosRunner
from tracer.cli import app


async def test_replicas_killed_and_cut_off_leave_one_alert_per_incident(
    database_url: str,
) -> None:
    report = await ChaosRunner(database_url, seed=11, replicas=4, incidents=3).run(8)
    assert report.problems == []
    assert (report.trials, report.incidents) == (8, 24)
    assert (report.duplicates, report.lost, report.outbox_errors, report.state_errors) == (
        0,
        0,
        0,
        0,
    )
    # Every trial kills one or two replicas once they are well into their writes; nearly all
    # of those kills land before the replica is done.
    assert report.kill_attempts >= 8
    assert report.kills >= report.kill_attempts // 2
    assert report.cuts >= 8  # and cuts one survivor's connection before its commit
    assert report.retries >= report.cuts


async def test_the_suite_catches_a_store_without_its_fingerprint_lock(
    database_url: str,
) -> None:
    """The suite must be able to fail: without the per-fingerprint lock, racing replicas
    repeat outbox events."""
    conn = await asyncpg.connect(database_url)
    try:
        for function in ("tracer_report_alert", "tracer_recover_alert"):
            source = await conn.fetchval("SELECT pg_get_functiondef($1::regproc)", function)
            unlocked = source.replace(
                "PERFORM pg_advisory_xact_lock(1953653091, hashtext(p_fingerprint));", ""
            )
            assert unlocked != source
            await conn.execute(unlocked)
    finally:
        await conn.close()
    report = await ChaosRunner(database_url, seed=3, replicas=4, incidents=4).run(15)
    assert not report.ok
    assert report.outbox_errors + report.duplicates + report.state_errors > 0


def test_plans_are_seeded_and_keep_survivors() -> None:
    first, again = make_plan(5, 2), make_plan(5, 2)
    assert first == again
    assert make_plan(5, 3) != first
    for trial in range(200):
        plan = make_plan(9, trial, replicas=3)
        killed = {index for index, _ in plan.kills}
        assert plan.cut is not None
        assert plan.cut not in killed
        assert len(killed) <= 1  # with three replicas, two always see everything
        assert all(abs(r.skew_seconds) <= 3.0 for r in plan.replicas)
    with pytest.raises(ValueError, match="3 replicas"):
        make_plan(1, 1, replicas=2)


def test_chaos_command_prints_the_figures(pg_server_url: str) -> None:
    result = CliRunner().invoke(
        app, ["chaos", "--trials", "3", "--seed", "4", "--database-url", pg_server_url]
    )
    assert result.exit_code == 0, result.output
    for figure in ("trials", "duplicate alerts", "lost incidents", "connections cut"):
        assert figure in result.output
    assert "problem:" not in result.output


@pytest.mark.slow
async def test_many_chaos_trials(database_url: str) -> None:
    """A modest count in CI; TRACER_CHAOS_TRIALS=1000 for the full run from pytest."""
    trials = int(os.environ.get("TRACER_CHAOS_TRIALS", "40"))
    report = await ChaosRunner(database_url, seed=2024, replicas=4, incidents=3).run(trials)
    assert report.problems == []
    assert report.ok
    assert report.trials == trials
