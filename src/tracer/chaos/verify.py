"""What must hold after a chaos trial, checked against the database itself.

Per incident: exactly one alert (none is a lost incident, more are duplicates); its outbox
holds exactly one `opened`, one `resolved` per recovery and one `reopened` per flap, in that
order, with escalations only upwards; the alert ends resolved at the incident's top
severity; and every replica that survived is counted exactly once per detection it made,
however often its writes were retried.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import asyncpg

from tracer.chaos.plan import TrialPlan
from tracer_core.models import Severity, alert_fingerprint

_ALERTS = """
SELECT a.fingerprint, a.status, a.severity, a.reopen_count, a.occurrences, a.reporters,
       coalesce(array_agg(e.kind ORDER BY e.id) FILTER (WHERE e.id IS NOT NULL), '{}') AS kinds,
       coalesce(array_agg(e.severity ORDER BY e.id) FILTER (WHERE e.id IS NOT NULL), '{}')
           AS severities
FROM alerts a LEFT JOIN alert_events e ON e.alert_id = a.id
WHERE a.project = $1
GROUP BY a.id
ORDER BY a.id
"""
_RANK = {severity.value: rank for rank, severity in enumerate(Severity)}


@dataclass
class TrialOutcome:
    incidents: int = 0
    duplicates: int = 0
    lost: int = 0
    outbox_errors: int = 0
    state_errors: int = 0
    problems: list[str] = field(default_factory=list)


def _expected_kinds(phases: int) -> list[str]:
    return ["opened", "resolved"] + ["reopened", "resolved"] * (phases - 1)


async def verify_trial(
    conn: asyncpg.Connection | asyncpg.Pool, plan: TrialPlan, survivors: set[int]
) -> TrialOutcome:
    rows = await conn.fetch(_ALERTS, plan.project)
    by_fingerprint: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        by_fingerprint.setdefault(row["fingerprint"], []).append(row)
    outcome = TrialOutcome(incidents=len(plan.incidents))
    for number, incident in enumerate(plan.incidents):
        fingerprint = alert_fingerprint(plan.project, incident.service, incident.alert_type)
        alerts = by_fingerprint.get(fingerprint, [])
        where = f"trial {plan.trial} {fingerprint}"
        if not alerts:
            outcome.lost += 1
            outcome.problems.append(f"{where}: no alert (lost incident)")
            continue
        if len(alerts) > 1:
            outcome.duplicates += len(alerts) - 1
            outcome.problems.append(f"{where}: {len(alerts)} alerts for one incident")
        alert = alerts[0]
        kinds: list[str] = list(alert["kinds"])
        severities: list[str] = list(alert["severities"])
        transitions = [kind for kind in kinds if kind != "escalated"]
        rises = [
            _RANK[severity]
            for kind, severity in zip(kinds, severities, strict=True)
            if kind in ("opened", "escalated")
        ]
        if transitions != _expected_kinds(incident.phases):
            outcome.outbox_errors += 1
            outcome.problems.append(f"{where}: outbox events {kinds}")
        elif any(later <= earlier for earlier, later in itertools.pairwise(rises)):
            outcome.outbox_errors += 1
            outcome.problems.append(f"{where}: escalations not strictly upwards {severities}")
        reporters: dict[str, int] = dict(alert["reporters"])
        state = []
        if alert["status"] != "resolved":
            state.append(f"status {alert['status']}")
        if alert["reopen_count"] != incident.phases - 1:
            state.append(f"reopen_count {alert['reopen_count']}")
        if alert["severity"] != incident.top_severity.value:
            state.append(f"severity {alert['severity']} != {incident.top_severity.value}")
        if alert["occurrences"] != sum(reporters.values()):
            state.append(f"occurrences {alert['occurrences']} != reporters {reporters}")
        for index, script in enumerate(plan.replicas):
            counted = reporters.get(script.processor_id, 0)
            made = script.detections(number)
            if counted > made or (index in survivors and counted != made):
                state.append(f"{script.processor_id} counted {counted}/{made}")
        if state:
            outcome.state_errors += 1
            outcome.problems.append(f"{where}: {'; '.join(state)}")
    return outcome
