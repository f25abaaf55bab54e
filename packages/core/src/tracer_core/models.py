"""Domain models shared by the processor, the agent and the CLI.

The enums are `StrEnum`s so that they round-trip through PostgreSQL text columns and JSON
unchanged; the database check constraints in the migrations list the same values.
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class LogLevel(StrEnum):
    TRACE = "trace"
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"
    FATAL = "fatal"

    @property
    def is_error(self) -> bool:
        return self in (LogLevel.ERROR, LogLevel.FATAL)


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    def __ge__(self, other: object) -> bool:
        if isinstance(other, Severity):
            return self.rank >= other.rank
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, Severity):
            return self.rank > other.rank
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, Severity):
            return self.rank <= other.rank
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Severity):
            return self.rank < other.rank
        return NotImplemented


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class AlertType(StrEnum):
    ERROR_SPIKE = "error_spike"
    HIGH_LATENCY = "high_latency"
    TRAFFIC_DROP = "traffic_drop"
    TRAFFIC_SPIKE = "traffic_spike"
    SERVICE_DOWN = "service_down"


class AlertStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class AlertEventKind(StrEnum):
    """What happened to an alert; each event is one outbox row for the agent."""

    OPENED = "opened"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    # Incident notices: written on the incident's first alert when someone acts on the
    # incident, or when an unacknowledged critical incident is notified again.
    ACKNOWLEDGED = "acknowledged"
    UNACKNOWLEDGED = "unacknowledged"
    RESOLVED_BY_HAND = "resolved_by_hand"
    RENOTIFIED = "renotified"


INCIDENT_NOTICES = frozenset(
    {
        AlertEventKind.ACKNOWLEDGED,
        AlertEventKind.UNACKNOWLEDGED,
        AlertEventKind.RESOLVED_BY_HAND,
        AlertEventKind.RENOTIFIED,
    }
)
"""Events about the incident rather than its alert: they follow the incident's threads only."""


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD = "dead"


class Toolkit(StrEnum):
    SLACK = "slack"
    JIRA = "jira"
    PAGERDUTY = "pagerduty"
    GMAIL = "gmail"


class ConnectionScope(StrEnum):
    ORG = "org"
    USER = "user"


class ConnectionStatus(StrEnum):
    INITIATED = "INITIATED"
    ACTIVE = "ACTIVE"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    INACTIVE = "INACTIVE"


class Role(StrEnum):
    ADMIN = "admin"
    ENGINEER = "engineer"
    INGEST = "ingest"


def _require_finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class LogRecord(BaseModel):
    """One log line as the processor's ingest API accepts it."""

    model_config = ConfigDict(frozen=True)

    timestamp: datetime
    service: str = Field(min_length=1, max_length=200)
    level: LogLevel
    message: str = Field(max_length=65_536)
    project: str = Field(default="default", min_length=1, max_length=200)
    status_code: int | None = Field(default=None, ge=0, le=999)
    duration_ms: float | None = Field(default=None, ge=0)
    trace_id: str | None = None
    span_id: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    _finite_duration = field_validator("duration_ms")(_require_finite)

    @property
    def is_error(self) -> bool:
        return self.level.is_error or (self.status_code is not None and self.status_code >= 500)


def alert_fingerprint(project: str, service: str, alert_type: AlertType | str) -> str:
    """The identity of an incident: one open alert per fingerprint, enforced by PostgreSQL."""
    return f"{project}/{service}/{AlertType(alert_type).value}"


class Alert(BaseModel):
    """An alert row as the API returns it. Times named *_at are database time."""

    id: int
    fingerprint: str
    project: str
    service: str
    alert_type: AlertType
    severity: Severity
    status: AlertStatus
    title: str
    window_start: datetime
    window_end: datetime
    first_seen_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    occurrences: int
    details: dict[str, Any]


class AlertEvent(BaseModel):
    """An outbox row: something the agent must tell the routed destinations about."""

    id: int
    alert_id: int
    kind: AlertEventKind
    severity: Severity
    created_at: datetime


class Delivery(BaseModel):
    id: int
    alert_id: int
    event_id: int
    destination: str
    toolkit: Toolkit
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    result: dict[str, Any]
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime


class Connection(BaseModel):
    id: str
    toolkit: Toolkit
    scope: ConnectionScope
    status: ConnectionStatus
    user_id: str


class ApiKey(BaseModel):
    """A stored API key; the secret itself is never kept, only its hash."""

    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
