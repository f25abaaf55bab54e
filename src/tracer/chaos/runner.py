"""The chaos suite: processor replicas as real OS processes against one real PostgreSQL,
killed and cut off while they write, and a check that every incident still ends as exactly
one alert with each outbox event exactly once.

Each trial (see `tracer.chaos.plan`) feeds the same incidents to every replica. While they
write, the harness SIGKILLs one or two of them after a random number of their decisions, and
cuts one survivor's connection in the middle of a transaction: a trigger installed in the
scratch database holds that replica's next decision after all of its rows are written and
before commit, the harness terminates its backend with `pg_terminate_backend`, and the
replica must recover by retrying. Replicas are forked from a pre-loaded server process, so
replacing a killed one costs milliseconds and a trial takes a fraction of a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import asyncpg

from tracer.chaos.plan import TrialPlan, make_plan
from tracer.chaos.verify import verify_trial
from tracer.chaos.worker import receive, replica_main
from tracer_core.db import connect

log = logging.getLogger(__name__)

GATE = (0x6368, 0x616F)  # advisory lock the harness holds to stop a replica before commit
_GATE_SQL = f"""
CREATE TABLE IF NOT EXISTS chaos_gate (application_name text PRIMARY KEY);
CREATE OR REPLACE FUNCTION chaos_gate_wait() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM chaos_gate
               WHERE application_name = current_setting('application_name')) THEN
        PERFORM pg_advisory_xact_lock({GATE[0]}, {GATE[1]});
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS chaos_gate ON alert_reports;
CREATE TRIGGER chaos_gate AFTER INSERT ON alert_reports
    FOR EACH ROW EXECUTE FUNCTION chaos_gate_wait();
"""
_GATE_WAITERS = """
SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = $1 AND l.objid = $2
  AND l.objsubid = 2 AND a.application_name = $3
"""
TRIAL_TIMEOUT = 60.0


@dataclass
class ChaosReport:
    trials: int = 0
    incidents: int = 0
    duplicates: int = 0
    lost: int = 0
    outbox_errors: int = 0
    state_errors: int = 0
    writer_errors: int = 0
    kill_attempts: int = 0
    kills: int = 0  # SIGKILLs that hit a replica still writing
    cuts: int = 0  # connections terminated mid-transaction
    decisions: int = 0
    retries: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.duplicates
            or self.lost
            or self.outbox_errors
            or self.state_errors
            or self.writer_errors
        )


@contextlib.contextmanager
def _without_main_module_path() -> Iterator[None]:
    """Replicas need nothing from the program running the suite (the `tracer` command,
    pytest). Without this, multiprocessing makes every new replica re-import that program's
    main script, and with it the whole CLI: half a second per replica instead of a few ms."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None:
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


@dataclass
class _Replica:
    process: BaseProcess
    control: Connection
    application_name: str


class ChaosRunner:
    """Runs trials against `database_url` (a migrated scratch database it may modify)."""

    def __init__(
        self, database_url: str, *, seed: int, replicas: int = 4, incidents: int = 3
    ) -> None:
        if replicas < 3:
            raise ValueError("the chaos suite needs at least 3 replicas")
        self._url = database_url
        self._seed = seed
        self._replica_count = replicas
        self._incidents = incidents
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["tracer.chaos.worker"])
        self._slots: list[_Replica | None] = [None] * replicas
        self._spawned = 0
        self._admin: asyncpg.Connection | None = None

    async def run(
        self, trials: int, progress: Callable[[ChaosReport], None] | None = None
    ) -> ChaosReport:
        report = ChaosReport()
        started = time.monotonic()
        self._admin = await connect(self._url, application_name="tracer-chaos")
        try:
            await self._admin.execute(_GATE_SQL)
            for trial in range(trials):
                await self._trial(
                    make_plan(
                        self._seed, trial, replicas=self._replica_count, incidents=self._incidents
                    ),
                    report,
                )
                report.trials += 1
                report.seconds = time.monotonic() - started
                if progress is not None:
                    progress(report)
        finally:
            await self._shutdown()
            await self._admin.close()
        return report

    async def _trial(self, plan: TrialPlan, report: ChaosReport) -> None:
        replicas = await self._ensure_replicas()
        admin = self._admin
        assert admin is not None
        victim = replicas[plan.cut] if plan.cut is not None else None
        if victim is not None:
            await admin.execute("SELECT pg_advisory_lock($1, $2)", *GATE)
            await admin.execute("INSERT INTO chaos_gate VALUES ($1)", victim.application_name)
        for index, replica in enumerate(replicas):
            replica.control.send((plan, index))
        for replica in replicas:
            await self._expect(replica, "armed")
        for replica in replicas:
            replica.control.send("go")
        kills = [asyncio.create_task(self._kill_while_writing(replicas[i])) for i, _ in plan.kills]
        if victim is not None:
            report.cuts += await self._cut(victim)
        killed = {index for index, _ in plan.kills}
        survivors = {i for i in range(len(replicas)) if i not in killed}
        for index in sorted(survivors):
            stats = await self._expect(replicas[index], "done")
            report.decisions += stats["written"]
            report.retries += stats["retries"]
            steps = len(plan.replicas[index].steps)
            if (stats["written"], stats["dropped"], stats["rejected"]) != (steps, 0, 0):
                report.writer_errors += 1
                report.problems.append(f"trial {plan.trial} replica {index}: writer {stats}")
        report.kill_attempts += len(kills)
        report.kills += sum(await asyncio.gather(*kills))
        for index in killed:
            self._slots[index] = None
        outcome = await verify_trial(admin, plan, survivors)
        report.incidents += outcome.incidents
        report.duplicates += outcome.duplicates
        report.lost += outcome.lost
        report.outbox_errors += outcome.outbox_errors
        report.state_errors += outcome.state_errors
        report.problems.extend(outcome.problems)

    async def _cut(self, victim: _Replica) -> int:
        """Wait for the victim's decision to stop at the gate, terminate its backend, then
        open the gate. Returns how many backends were cut."""
        admin = self._admin
        assert admin is not None
        cut = 0
        try:
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline:
                pids = await admin.fetch(_GATE_WAITERS, *GATE, victim.application_name)
                if pids:
                    for row in pids:
                        cut += bool(
                            await admin.fetchval("SELECT pg_terminate_backend($1)", row["pid"])
                        )
                    break
                await asyncio.sleep(0.002)
            else:
                log.warning("chaos: the replica to cut never reached the gate")
        finally:
            await admin.execute("DELETE FROM chaos_gate")
            await admin.execute("SELECT pg_advisory_unlock($1, $2)", *GATE)
        return cut

    async def _kill_while_writing(self, replica: _Replica) -> bool:
        """SIGKILL the replica as soon as it reports being in the middle of its writes;
        True when it had not finished them."""
        await self._expect(replica, "writing")
        replica.process.kill()
        still_writing = not replica.control.poll()  # no "done" sent yet
        await asyncio.to_thread(replica.process.join, 10)
        replica.control.close()
        return still_writing

    async def _expect(self, replica: _Replica, kind: str) -> Any:
        try:
            message = await receive(replica.control, TRIAL_TIMEOUT)
        except (TimeoutError, EOFError) as exc:
            raise RuntimeError(
                f"chaos replica {replica.application_name} stopped answering"
            ) from exc
        if message[0] != kind:
            raise RuntimeError(f"chaos replica sent {message[0]!r}, expected {kind!r}")
        return message[1]

    async def _ensure_replicas(self) -> list[_Replica]:
        fresh = []
        for slot, replica in enumerate(self._slots):
            if replica is None:
                self._spawned += 1
                name = f"tracer-chaos-{slot}-{self._spawned}"
                parent, child = self._context.Pipe()
                process = self._context.Process(
                    target=replica_main, args=(self._url, name, child), daemon=True
                )
                with _without_main_module_path():
                    process.start()
                child.close()
                self._slots[slot] = _Replica(process, parent, name)
                fresh.append(self._slots[slot])
        for replica in fresh:
            assert replica is not None
            await self._expect(replica, "ready")
        return [replica for replica in self._slots if replica is not None]

    async def _shutdown(self) -> None:
        for replica in self._slots:
            if replica is None:
                continue
            with contextlib.suppress(OSError):
                replica.control.send("exit")
        for replica in self._slots:
            if replica is None:
                continue
            await asyncio.to_thread(replica.process.join, 10)
            if replica.process.is_alive():
                replica.process.kill()
            replica.control.close()
        self._slots = [None] * self._replica_count
