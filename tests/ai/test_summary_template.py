"""The template summarizer and the alert context's input checks."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from tests.ai.alerts import make_context
from tracer_ai.destinations.slack import render as render_slack
from tracer_ai.summary import format_number, template_summary
from tracer_core.models import AlertEventKind, AlertType


def test_template_is_deterministic_and_marked() -> None:
    first = template_summary(make_context(), fallback_reason="timeout: slow")
    assert first == template_summary(make_context(), fallback_reason="timeout: slow")
    assert first.source == "template"
    assert first.fallback_reason == "timeout: slow"
    assert first.confidence == "low"
    assert first.title == "Error spike on checkout (shop), high"
    # Error rates read as percentages (they used to read "observed 0.42, baseline 0.01").
    assert "observed 42.0%, baseline 1.0%, z-score 82" in first.what_happened
    assert "57 time(s)" in first.likely_cause
    assert first.next_steps


@pytest.mark.parametrize("kind", list(AlertType))
def test_every_alert_type_has_a_template(kind: AlertType) -> None:
    summary = template_summary(make_context(alert_type=kind, samples=[]))
    assert summary.next_steps
    assert "no log messages" in summary.likely_cause


def test_resolved_and_escalated_wording() -> None:
    resolved = template_summary(make_context(event=AlertEventKind.RESOLVED))
    assert resolved.title.startswith("Error spike on checkout")
    assert "back within its normal band" in resolved.what_happened
    escalated = template_summary(make_context(event=AlertEventKind.ESCALATED))
    assert escalated.title.startswith("Error spike on checkout")


def test_rendered_event_word_appears_once() -> None:
    for event, word in (
        (AlertEventKind.ESCALATED, "Escalated"),
        (AlertEventKind.RESOLVED, "Resolved"),
    ):
        ctx = make_context(event=event)
        text = render_slack(template_summary(ctx), ctx, channel="#incidents").arguments["text"]
        assert text.count(f"{word}:") == 1, text


def test_non_finite_details_are_refused_with_the_field_named() -> None:
    with pytest.raises(ValidationError, match=r"details\.stats\.z_score"):
        make_context(details={"stats": {"z_score": math.inf}})
    with pytest.raises(ValidationError, match="finite"):
        make_context(details={"values": [1.0, math.nan]})


def test_number_formatting() -> None:
    assert format_number(1234567) == "1,234,567"
    assert format_number(2.0) == "2"
    assert format_number(0.000123456) == "0.000123"
    assert format_number(math.nan) == "n/a"
    assert format_number(True) == "True"
