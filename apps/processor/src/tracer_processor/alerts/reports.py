"""What the detector hands to the alert store, and what the store decides.

The detector only says "this looks like an incident" (`AlertCandidate`) or "this metric is
back to normal" (`Recovery`); the store (`tracer_processor.alerts.store`) turns that into at
most one alert per incident across all replicas, using the database clock for every dedup
decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from tracer_core.models import Alert, AlertStatus, AlertType, Severity, alert_fingerprint


@dataclass(frozen=True, slots=True)
class AlertCandidate:
    """An anomaly seen in one closed bucket (or run of buckets) of one service's metric."""

    project: str
    service: str
    alert_type: AlertType
    severity: Severity
    title: str
    window_start: datetime  # event time
    window_end: datetime  # event time
    details: dict[str, Any] = field(default_factory=dict)  # finite numbers only

    @property
    def fingerprint(self) -> str:
        return alert_fingerprint(self.project, self.service, self.alert_type)


@dataclass(frozen=True, slots=True)
class Recovery:
    """The metric behind an alert type has been back within its band for long enough."""

    project: str
    service: str
    alert_type: AlertType
    window_end: datetime  # event time of the last healthy bucket
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return alert_fingerprint(self.project, self.service, self.alert_type)


class Decision(StrEnum):
    OPENED = "opened"  # a new alert (and an outbox event)
    MERGED = "merged"  # folded into an alert that already covers it; nothing to send
    ESCALATED = "escalated"  # merged, and the severity went up (an outbox event)
    REOPENED = "reopened"  # a recently resolved alert fired again (an outbox event)
    RESOLVED = "resolved"  # the open alert was closed (an outbox event)
    IGNORED = "ignored"  # nothing to do (e.g. a recovery with no open alert)


@dataclass(frozen=True, slots=True)
class StoreResult:
    decision: Decision
    alert_id: int | None


class AlertStore(Protocol):
    """Where the processor's detections go. Implementations must be safe across replicas."""

    async def report(self, candidate: AlertCandidate) -> StoreResult: ...

    async def recover(self, recovery: Recovery) -> StoreResult: ...

    async def list_alerts(
        self, *, status: AlertStatus | None, service: str | None, limit: int
    ) -> list[Alert]: ...


class AlertSink(Protocol):
    """Where the detection path hands its decisions: must never block and never raise
    (the buffered writer over an `AlertStore` is the production implementation)."""

    def submit(self, item: AlertCandidate | Recovery) -> None: ...
