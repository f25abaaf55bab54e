"""What the alert store sends to PostgreSQL for one report, checked and made safe first.

Details are free-form numbers and words from the detector; they are stored as jsonb, read by
the API and pasted into summaries, so everything that is not plain finite JSON is turned into
something that is (NaN and infinities become null, numpy scalars become numbers). A report's
id is a digest of what was reported and by whom, which makes every retry idempotent.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from numbers import Integral, Real
from typing import Any

from tracer_core.models import AlertType, Severity
from tracer_processor.alerts.reports import AlertCandidate, Recovery
from tracer_processor.alerts.retry import InvalidAlertError
from tracer_processor.ingest.text import clean_message

MAX_TITLE = 500
MAX_TEXT = 4_000
MAX_DEPTH = 8
_MAX_EXACT_INT = 2**53


def finite_json(value: Any, depth: int = 0) -> Any:
    """`value` as JSON with finite numbers only, bounded in depth and string length."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return clean_message(value[:MAX_TEXT])
    if isinstance(value, Integral):
        whole = int(value)
        if abs(whole) <= _MAX_EXACT_INT:
            return whole
        try:
            return float(whole)
        except OverflowError:
            return None
    if isinstance(value, Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if depth >= MAX_DEPTH:
        return str(value)[:MAX_TEXT]
    if isinstance(value, Mapping):
        return {
            clean_message(str(key)[:MAX_TEXT]): finite_json(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [finite_json(item, depth + 1) for item in value]
    return clean_message(str(value)[:MAX_TEXT])


def numbers_only(details: Mapping[str, Any]) -> dict[str, Any]:
    """The finite numbers of a report's details: what survives when its text cannot be
    stored (the incident is still alerted, with its figures)."""
    kept: dict[str, Any] = {}
    for key, value in details.items():
        safe = finite_json(value)
        if isinstance(safe, int | float) and not isinstance(safe, bool):
            kept[str(key).encode("ascii", "ignore").decode()[:100]] = safe
    kept["details_repaired"] = True
    return kept


def _aware(name: str, when: object) -> datetime:
    if not isinstance(when, datetime):
        raise InvalidAlertError(f"{name} must be a datetime, got {type(when).__name__}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidAlertError(f"{name} must be timezone-aware, got {when.isoformat()}")
    return when


def _identity(project: object, service: object, alert_type: object) -> AlertType:
    if not isinstance(project, str) or not project.strip():
        raise InvalidAlertError("project must be a non-empty string")
    if not isinstance(service, str) or not service.strip():
        raise InvalidAlertError("service must be a non-empty string")
    try:
        return AlertType(str(alert_type))
    except ValueError:
        raise InvalidAlertError(f"unknown alert_type {alert_type!r}") from None


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def report_id(processor_id: str, kind: str, *parts: object) -> uuid.UUID:
    """The same report from the same processor always gets the same id."""
    digest = hashlib.sha256()
    for part in (processor_id, kind, *parts):
        digest.update(str(part).encode())
        digest.update(b"\x1f")
    return uuid.UUID(bytes=digest.digest()[:16])


@dataclass(frozen=True, slots=True)
class CandidatePayload:
    report_id: uuid.UUID
    fingerprint: str
    project: str
    service: str
    alert_type: AlertType
    severity: Severity
    title: str
    window_start: datetime
    window_end: datetime
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecoveryPayload:
    report_id: uuid.UUID
    fingerprint: str
    window_end: datetime
    details: dict[str, Any]


def candidate_payload(processor_id: str, candidate: AlertCandidate) -> CandidatePayload:
    """Check a detection and prepare it; raises `InvalidAlertError` saying what is wrong."""
    alert_type = _identity(candidate.project, candidate.service, candidate.alert_type)
    try:
        severity = Severity(candidate.severity)
    except ValueError:
        raise InvalidAlertError(f"unknown severity {candidate.severity!r}") from None
    start = _aware("window_start", candidate.window_start)
    end = _aware("window_end", candidate.window_end)
    if end < start:
        raise InvalidAlertError(
            f"window_end {end.isoformat()} is before window_start {start.isoformat()}"
        )
    title = clean_message(str(candidate.title)).strip()[:MAX_TITLE]
    title = title or f"{alert_type.value} on {candidate.service}"
    details = finite_json(dict(candidate.details)) if candidate.details else {}
    fingerprint = candidate.fingerprint
    return CandidatePayload(
        report_id=report_id(
            processor_id, "candidate", fingerprint, _utc(start), _utc(end), severity
        ),
        fingerprint=fingerprint,
        project=candidate.project,
        service=candidate.service,
        alert_type=alert_type,
        severity=severity,
        title=title,
        window_start=start,
        window_end=end,
        details=details,
    )


def recovery_payload(processor_id: str, recovery: Recovery) -> RecoveryPayload:
    """Check a recovery and prepare it; raises `InvalidAlertError` saying what is wrong."""
    _identity(recovery.project, recovery.service, recovery.alert_type)
    end = _aware("window_end", recovery.window_end)
    fingerprint = recovery.fingerprint
    return RecoveryPayload(
        report_id=report_id(processor_id, "recovery", fingerprint, _utc(end)),
        fingerprint=fingerprint,
        window_end=end,
        details=finite_json(dict(recovery.details)) if recovery.details else {},
    )
