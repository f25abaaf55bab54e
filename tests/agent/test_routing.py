"""Routing rules (built-in defaults, TOML and YAML files, matching, clear errors), retry
backoff, and the agent settings that choose them."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tracer_agent.delivery.backoff import Backoff
from tracer_agent.routing import RoutingError, default_rules, load_rules
from tracer_agent.settings import AgentSettings
from tracer_core.models import Severity
from tracer_core.settings import load_settings


def _names(rules_path: Path | None, severity: Severity, service: str = "checkout") -> list[str]:
    rules = load_rules(rules_path)
    chosen = rules.route(
        severity=severity, service=service, alert_type="error_spike", project="shop"
    )
    return [d.name for d in chosen]


def test_defaults_page_critical_ticket_high_and_chat_medium() -> None:
    assert _names(None, Severity.CRITICAL) == ["pagerduty-oncall", "slack-incidents"]
    assert _names(None, Severity.HIGH) == ["jira-ops", "slack-incidents"]
    assert _names(None, Severity.MEDIUM) == ["slack-incidents"]
    assert _names(None, Severity.LOW) == []
    assert default_rules().source == "built-in rules"


TOML = """
[[destinations]]
name = "payments-oncall"
toolkit = "pagerduty"
service_id = "PPAY01"

[[destinations]]
name = "team-chat"
toolkit = "slack"
channel = "#payments"

[[destinations]]
name = "mail"
toolkit = "gmail"
recipients = ["oncall@example.com", "lead@example.com"]

[[rules]]
name = "payments pages"
match = { service = ["pay*", "checkout"], min_severity = "high" }
send_to = ["payments-oncall"]
continue = true

[[rules]]
name = "everything to chat"
match = { min_severity = "medium" }
send_to = ["team-chat", "mail"]
"""


def test_toml_rules_match_globs_and_continue(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text(TOML)
    assert _names(path, Severity.CRITICAL) == ["payments-oncall", "team-chat", "mail"]
    assert _names(path, Severity.HIGH, service="payments-api") == [
        "payments-oncall", "team-chat", "mail",
    ]  # fmt: skip
    assert _names(path, Severity.HIGH, service="search") == ["team-chat", "mail"]
    assert _names(path, Severity.LOW) == []
    mail = load_rules(path).destination("mail")
    assert mail is not None
    assert mail.recipients == ("oncall@example.com", "lead@example.com")


def test_yaml_rules(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(
        "destinations:\n"
        "  - {name: ops, toolkit: jira, project_key: OPS, rate_per_minute: 10}\n"
        "rules:\n"
        "  - {match: {alert_type: [service_down]}, send_to: [ops]}\n"
    )
    rules = load_rules(path)
    chosen = rules.route(severity=Severity.LOW, service="x", alert_type="service_down", project="p")
    assert [d.name for d in chosen] == ["ops"]
    assert chosen[0].effective_rate_per_minute == 10
    assert not rules.route(
        severity=Severity.LOW, service="x", alert_type="error_spike", project="p"
    )


@pytest.mark.parametrize(
    ("text", "suffix", "message"),
    [
        ("[[rules]]\nsend_to = ['nowhere']\n", ".toml", "unknown destination"),
        ("[[destinations]]\nname = 'a'\ntoolkit = 'slack'\n", ".toml", "needs 'channel'"),
        ("[[destinations]]\nname = 'a'\ntoolkit = 'fax'\nchannel = 'x'\n", ".toml", "toolkit"),
        ("destinations: [\n", ".yaml", "not valid YAML"),
        ("= nonsense", ".toml", "not valid TOML"),
        ("- just a list\n", ".yml", "expected a table"),
        (
            "destinations:\n  - {name: m, toolkit: gmail, recipients: [nobody]}\n",
            ".yaml",
            "not an email address",
        ),
    ],
)
def test_bad_files_say_where_and_why(tmp_path: Path, text: str, suffix: str, message: str) -> None:
    path = tmp_path / f"routing{suffix}"
    path.write_text(text)
    with pytest.raises(RoutingError, match=message) as caught:
        load_rules(path)
    assert str(path) in str(caught.value)


def test_missing_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(RoutingError, match="TRACER_ROUTING_FILE"):
        load_rules(tmp_path / "absent.toml")


def test_backoff_grows_with_jitter_and_stops() -> None:
    backoff = Backoff(base_seconds=1.0, max_seconds=20.0, max_attempts=5)
    rng = random.Random(3)
    delays = [backoff.delay(attempt, rng) for attempt in range(1, 5)]
    assert all(d is not None for d in delays)
    steps = [1.0, 2.0, 4.0, 8.0]
    for delay, step in zip(delays, steps, strict=True):
        assert delay is not None
        assert step / 2 <= delay <= step
    assert backoff.delay(5, rng) is None
    capped = Backoff(base_seconds=1.0, max_seconds=20.0, max_attempts=100).delay(60, rng)
    assert capped is not None
    assert 10.0 <= capped <= 20.0


def test_blank_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "COMPOSIO_API_KEY", "TRACER_ROUTING_FILE", "TRACER_LLM_MODEL"):
        monkeypatch.setenv(name, "")
    settings = load_settings(AgentSettings)
    assert settings.openai_api_key is None
    assert settings.composio_api_key is None
    assert settings.routing_file is None
    assert settings.llm_model == "gpt-4.1-mini"
    assert not settings.llm_configured


def test_inhibition_defaults_to_service_down_and_can_be_replaced(tmp_path: Path) -> None:
    defaults = default_rules()
    open_down = [("service_down", Severity.CRITICAL)]
    assert defaults.inhibited(
        severity=Severity.HIGH, service="s", alert_type="traffic_drop", project="p",
        open_alerts=open_down,
    ) == "service down"  # fmt: skip
    assert (
        defaults.inhibited(
            severity=Severity.HIGH, service="s", alert_type="traffic_spike", project="p",
            open_alerts=open_down,
        ) is None
    )  # fmt: skip
    path = tmp_path / "rules.toml"
    path.write_text(
        """
[[inhibit]]
name = "database down"
source = { alert_type = ["service_down"] }
target = { alert_type = ["error_spike", "high_latency"], min_severity = "medium" }
""",
        encoding="utf-8",
    )
    custom = load_rules(path)
    assert [r.name for r in custom.inhibit] == ["database down"]
    assert custom.inhibited(
        severity=Severity.LOW, service="s", alert_type="error_spike", project="p",
        open_alerts=open_down,
    ) is None  # fmt: skip
    assert custom.inhibited(
        severity=Severity.HIGH, service="s", alert_type="error_spike", project="p",
        open_alerts=open_down,
    ) == "database down"  # fmt: skip
