"""The registry: every destination is listed once, and all of them render a template summary."""

from __future__ import annotations

import pytest

from tests.ai.alerts import make_context
from tracer_ai.destinations import (
    DESTINATIONS,
    UnknownDestinationError,
    destination_for,
    gmail,
    jira,
    pagerduty,
    routing_tools,
    slack,
)
from tracer_ai.summary import template_summary
from tracer_core.models import Toolkit


def test_every_toolkit_has_one_destination_and_its_routing_tools() -> None:
    assert set(DESTINATIONS) == {t.value for t in Toolkit}
    assert destination_for(Toolkit.JIRA) is jira.JIRA
    assert routing_tools(("gmail", "slack", "unknown")) == (
        "GMAIL_SEND_EMAIL",
        "GMAIL_REPLY_TO_THREAD",
        "SLACK_SEND_MESSAGE",
    )
    assert routing_tools() == (
        "SLACK_SEND_MESSAGE", "JIRA_CREATE_ISSUE", "JIRA_ADD_COMMENT",
        "PAGERDUTY_CREATE_INCIDENT_RECORD", "PAGERDUTY_UPDATE_INCIDENT_BY_ID", "GMAIL_SEND_EMAIL",
        "GMAIL_REPLY_TO_THREAD",
    )  # fmt: skip
    with pytest.raises(UnknownDestinationError, match="fax"):
        destination_for("fax")


def test_template_summaries_render_everywhere_without_non_finite_numbers() -> None:
    ctx = make_context(details={"observed": 1e-9, "baseline_mean": 0.0, "z_score": 1e12})
    summary = template_summary(ctx)
    texts = [
        slack.render(summary, ctx, channel="#a").arguments["markdown_text"],
        jira.render_issue(summary, ctx, project_key="A").arguments["description"],
        pagerduty.render(summary, ctx, service_id="P").arguments["incident__body__details"],
        gmail.render(summary, ctx, recipients=["a@b.c"]).arguments["body"],
    ]
    for text in texts:
        assert "nan" not in text.lower().split()
        assert "inf" not in text.lower().split()
        assert "Template summary" in text
