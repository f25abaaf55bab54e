"""Alert contexts and summaries for the tracer_ai tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tracer_ai.summary import AlertContext, AlertSummary, SampleMessage
from tracer_core.models import AlertEventKind, AlertStatus, AlertType, Severity

WINDOW_START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
WINDOW_END = datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC)


def make_context(**overrides: Any) -> AlertContext:
    values: dict[str, Any] = {
        "alert_id": 42,
        "fingerprint": "shop/checkout/error_spike",
        "project": "shop",
        "service": "checkout",
        "alert_type": AlertType.ERROR_SPIKE,
        "severity": Severity.HIGH,
        "status": AlertStatus.OPEN,
        "event": AlertEventKind.OPENED,
        "window_start": WINDOW_START,
        "window_end": WINDOW_END,
        "occurrences": 3,
        "details": {
            "observed": 0.42,
            "baseline_mean": 0.01,
            "baseline_std": 0.005,
            "z_score": 82.0,
        },
        "samples": [
            SampleMessage(message="payment gateway timeout after 30000 ms", count=57),
            SampleMessage(message="connection reset by peer", count=4),
        ],
        "alert_url": "http://127.0.0.1:8000/alerts/42",
    }
    values.update(overrides)
    return AlertContext(**values)


def make_summary(**overrides: Any) -> AlertSummary:
    values: dict[str, Any] = {
        "title": "Checkout errors jumped to 42%",
        "what_happened": "Error rate rose from 1% to 42% in ten seconds.",
        "impact": "About four in ten checkouts fail.",
        "likely_cause": "The payment gateway times out.",
        "next_steps": ["Check the payment gateway status", "Roll back the last deploy"],
        "confidence": "medium",
        "source": "llm",
        "model": "gpt-4.1-mini",
    }
    values.update(overrides)
    return AlertSummary(**values)
