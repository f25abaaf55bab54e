"""What one chaos trial does, drawn from a seed: the incidents, what every replica reports
about them and when, and which replicas die or lose their connection.

An incident is one fingerprint that every replica sees in the same traffic: one or two
phases (the second is a flap: the incident comes back after it recovered), each a few
anomalous buckets of rising severity and then a recovery two healthy buckets later. Every
replica reports every step, in its own interleaving of the incidents, with its own start
delay and jitter; one replica lags well behind the others, so its reports arrive after the
others have already resolved or reopened the alert. For alert types whose window ends at
"now" (silence), the window end comes from the replica's own clock, skewed by up to ±3 s.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tracer_core.models import AlertType, Severity
from tracer_processor.alerts.reports import AlertCandidate, Recovery

BUCKET_SECONDS = 10.0
SEVERITIES = list(Severity)
# Windows of these types end at the processor's "now", so its clock skew shows in them.
CLOCK_WINDOWED = frozenset({AlertType.SERVICE_DOWN, AlertType.TRAFFIC_DROP})


@dataclass(frozen=True, slots=True)
class Step:
    """One report: a detection of buckets [start, start + 1) or a recovery ending at `end`."""

    incident: int
    recovery: bool
    bucket: int  # detection: its bucket; recovery: the end of its last healthy bucket
    severity: int


@dataclass(frozen=True, slots=True)
class Incident:
    service: str
    alert_type: AlertType
    steps: tuple[Step, ...]

    @property
    def phases(self) -> int:
        return sum(step.recovery for step in self.steps)

    @property
    def top_severity(self) -> Severity:
        return SEVERITIES[max(step.severity for step in self.steps if not step.recovery)]


@dataclass(frozen=True, slots=True)
class ReplicaScript:
    processor_id: str
    skew_seconds: float
    start_delay: float
    jitters: tuple[float, ...]  # pause before each step
    steps: tuple[Step, ...]

    def detections(self, incident: int) -> int:
        return sum(s.incident == incident and not s.recovery for s in self.steps)


@dataclass(frozen=True, slots=True)
class TrialPlan:
    trial: int
    project: str
    base: datetime  # event time of bucket 0
    incidents: tuple[Incident, ...]
    replicas: tuple[ReplicaScript, ...]
    # (replica, decisions) : SIGKILL the replica once its writer has taken that many decisions
    kills: tuple[tuple[int, int], ...]
    cut: int | None  # replica whose connection is cut mid-transaction
    # Seconds of database time a resolved alert absorbs stragglers (dedup window + skew).
    # Zero in half the trials: as if every straggler lagged longer than the window, so only
    # event time keeps it from reopening the incident.
    covered_seconds: float


def _incident(rng: random.Random, index: int) -> Incident:
    alert_type = rng.choice(list(AlertType))
    steps: list[Step] = []
    bucket, severity = 0, rng.randrange(2)
    for _ in range(1 if rng.random() < 0.6 else 2):
        for _ in range(rng.randint(1, 3)):
            steps.append(Step(index, False, bucket, severity))
            bucket += 1
            severity = min(3, severity + (rng.random() < 0.5))
        bucket += 2  # two healthy buckets, then the recovery
        steps.append(Step(index, True, bucket, 0))
    return Incident(f"svc-{index}", alert_type, tuple(steps))


def _with_late_bucket(incident: Incident) -> list[Step]:
    """The incident as a replica sees it when a late record makes the first healthy bucket
    of each phase look anomalous to it alone: one more detection, still before recovery."""
    steps: list[Step] = []
    for step in incident.steps:
        if step.recovery and steps and not steps[-1].recovery:
            last = steps[-1]
            steps.append(Step(last.incident, False, last.bucket + 1, last.severity))
        steps.append(step)
    return steps


def _interleave(rng: random.Random, per_incident: list[list[Step]]) -> tuple[Step, ...]:
    """One replica's order: each incident's steps in order, incidents mixed at random."""
    queues = [list(steps) for steps in per_incident]
    order: list[Step] = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        order.append(queue.pop(0))
    return tuple(order)


def make_plan(
    seed: int, trial: int, *, replicas: int = 4, incidents: int = 3, max_skew: float = 3.0
) -> TrialPlan:
    if replicas < 3:
        raise ValueError("a chaos trial needs at least 3 replicas")
    rng = random.Random(seed * 1_000_003 + trial)
    drawn = tuple(_incident(rng, i) for i in range(incidents))
    lagging = rng.randrange(replicas)
    late_bucket_seer = [rng.randrange(replicas) if rng.random() < 0.5 else -1 for _ in drawn]
    scripts = []
    for r in range(replicas):
        seen = [
            _with_late_bucket(incident) if late_bucket_seer[i] == r else list(incident.steps)
            for i, incident in enumerate(drawn)
        ]
        steps = _interleave(rng, seen)
        scripts.append(
            ReplicaScript(
                processor_id=f"chaos-t{trial}-r{r}",
                skew_seconds=rng.uniform(-max_skew, max_skew),
                start_delay=rng.uniform(0.02, 0.06) if r == lagging else rng.uniform(0, 0.004),
                jitters=tuple(rng.uniform(0, 0.002) for _ in steps),
                steps=steps,
            )
        )
    # Kill one replica (two in some trials); the one whose connection is cut survives, so
    # at least two replicas see every incident to the end.
    order = rng.sample(range(replicas), replicas)
    cut = order[0]
    doomed = order[1 : 2 + (replicas >= 4 and rng.random() < 0.3)]
    kills = tuple(
        (victim, rng.randint(1, max(1, len(scripts[victim].steps) // 2))) for victim in doomed
    )
    return TrialPlan(
        trial=trial,
        project=f"chaos-{seed}-{trial}",
        base=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=trial),
        incidents=drawn,
        replicas=tuple(scripts),
        kills=kills,
        cut=cut,
        covered_seconds=8.0 if rng.random() < 0.5 else 0.0,
    )


def report_for(plan: TrialPlan, script: ReplicaScript, step: Step) -> AlertCandidate | Recovery:
    """What the replica sends for a step; its clock skew moves the end of windows that end at
    the processor's "now". Nothing else in a replica depends on its clock: every dedup
    decision is taken on the database clock."""
    incident = plan.incidents[step.incident]
    at = plan.base + timedelta(seconds=step.bucket * BUCKET_SECONDS)
    if step.recovery:
        return Recovery(plan.project, incident.service, incident.alert_type, at)
    end = at + timedelta(seconds=BUCKET_SECONDS)
    if incident.alert_type in CLOCK_WINDOWED:
        end = max(at + timedelta(seconds=1), end + timedelta(seconds=script.skew_seconds))
    return AlertCandidate(
        project=plan.project,
        service=incident.service,
        alert_type=incident.alert_type,
        severity=SEVERITIES[step.severity],
        title=f"{incident.alert_type.value} on {incident.service}",
        window_start=at,
        window_end=end,
        details={"bucket": step.bucket, "replica": script.processor_id},
    )
