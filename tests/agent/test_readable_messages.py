"""Rendered messages for every destination read well: error rates as percentages, the
window's real error counts, the severity once, and no "<service>'s"."""

from __future__ import annotations

import json

import pytest

from tests.ai.alerts import make_context
from tracer_agent.routing import default_rules
from tracer_ai.destinations import destination_for
from tracer_ai.destinations.base import PlanRequest
from tracer_ai.summary import template_summary
from tracer_core.models import Severity, Toolkit

DETAILS = {
    "metric": "error_rate", "observed": 0.42, "baseline_mean": 0.01, "z_score": 82.0,
    "count": 1000, "errors": 420,
}  # fmt: skip


@pytest.mark.parametrize("toolkit", [Toolkit.SLACK, Toolkit.JIRA, Toolkit.PAGERDUTY])
def test_every_destination_shows_percentages_counts_and_plain_english(toolkit: Toolkit) -> None:
    ctx = make_context(service="orders", details=DETAILS, severity=Severity.CRITICAL)
    summary = template_summary(ctx)
    target = next(d for d in default_rules().destinations if d.toolkit is toolkit)
    steps = destination_for(toolkit).plan(PlanRequest(7, target, ctx, summary, None))
    assert isinstance(steps, list)
    text = json.dumps([step.call.arguments for step in steps], ensure_ascii=False)
    assert "42.0%" in text
    assert "1.0%" in text
    assert "420 of 1,000 requests failed" in text
    assert "0.42" not in text
    assert "orders's" not in text
    assert "'s " not in summary.what_happened + summary.impact + " ".join(summary.next_steps)
    assert (summary.title + summary.impact + summary.what_happened).lower().count("critical") == 1
