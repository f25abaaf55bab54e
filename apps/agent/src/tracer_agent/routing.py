"""Routing rules: which destinations hear about an alert.

A rules file (TOML or YAML, at TRACER_ROUTING_FILE) names destinations and an ordered list of
rules. A rule matches on severity, minimum severity, service, alert type and project (glob
patterns for names); the first matching rule decides unless it says `continue = true`, in
which case later rules may add destinations. Without a file the built-in rules apply:
critical pages PagerDuty and posts to Slack, high opens a Jira issue and posts to Slack,
medium posts to Slack, low stays quiet.

Only opened and reopened events are routed by rules. Escalations and resolutions follow the
destinations the alert was first routed to, so they land in the same thread, issue and
PagerDuty incident; an escalation also reaches any destination its new severity adds.
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tracer_core.models import AlertType, Severity, Toolkit
from tracer_core.settings import SettingsError


class RoutingError(SettingsError):
    """The rules file cannot be used; the message says where and why."""


class Destination(BaseModel):
    """Where messages go: one channel, Jira project, PagerDuty service or mailing list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:#@/-]+$")
    toolkit: Toolkit
    channel: str | None = Field(default=None, min_length=1, description="Slack channel")
    project_key: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]{0,19}$")
    issue_type: str = "Task"
    resolve_transition: str = "Done"
    reopen_transition: str = "To Do"
    service_id: str | None = Field(default=None, min_length=1, description="PagerDuty service")
    recipients: tuple[str, ...] = ()
    rate_per_minute: float = Field(default=0.0, ge=0, le=60_000)
    burst: int = Field(default=5, ge=1, le=1000)

    @field_validator("recipients")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            local, at, domain = address.partition("@")
            if not (local and at and "." in domain):
                raise ValueError(f"{address!r} is not an email address")
        return value

    @model_validator(mode="after")
    def _fields_for_toolkit(self) -> Destination:
        needed = {
            Toolkit.SLACK: ("channel", self.channel),
            Toolkit.JIRA: ("project_key", self.project_key),
            Toolkit.PAGERDUTY: ("service_id", self.service_id),
            Toolkit.GMAIL: ("recipients", self.recipients),
        }[self.toolkit]
        if not needed[1]:
            raise ValueError(f"a {self.toolkit.value} destination needs '{needed[0]}'")
        return self

    @property
    def default_rate_per_minute(self) -> float:
        """Each service's documented posting limit, used when the file sets none."""
        return {
            Toolkit.SLACK: 60.0,  # chat.postMessage: about one message per second per channel
            Toolkit.JIRA: 300.0,
            Toolkit.PAGERDUTY: 120.0,  # Events API: 120 events per minute per integration
            Toolkit.GMAIL: 60.0,
        }[self.toolkit]

    @property
    def effective_rate_per_minute(self) -> float:
        return self.rate_per_minute or self.default_rate_per_minute

    @property
    def target(self) -> str:
        """The human name of the place messages land."""
        return {
            Toolkit.SLACK: self.channel,
            Toolkit.JIRA: self.project_key,
            Toolkit.PAGERDUTY: self.service_id,
            Toolkit.GMAIL: ", ".join(self.recipients),
        }[self.toolkit] or self.name


class Match(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: tuple[Severity, ...] = ()
    min_severity: Severity | None = None
    service: tuple[str, ...] = ()
    alert_type: tuple[AlertType, ...] = ()
    project: tuple[str, ...] = ()

    def accepts(self, *, severity: Severity, service: str, alert_type: str, project: str) -> bool:
        if self.severity and severity not in self.severity:
            return False
        if self.min_severity is not None and severity < self.min_severity:
            return False
        if self.alert_type and alert_type not in self.alert_type:
            return False
        if self.service and not any(fnmatch.fnmatchcase(service, p) for p in self.service):
            return False
        return not self.project or any(fnmatch.fnmatchcase(project, p) for p in self.project)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = ""
    match: Match = Match()
    send_to: tuple[str, ...] = Field(min_length=1)
    continue_: bool = Field(default=False, alias="continue")


class InhibitRule(BaseModel):
    """While an open alert of a service matches `source`, that service's alerts matching
    `target` are recorded in the incident but not notified on their own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    source: Match
    target: Match


class Runbook(BaseModel):
    """What every message about a matching alert links to and names as its owner."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    match: Match = Match()
    url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://[^\s<>|]+$")
    owner: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _says_something(self) -> Runbook:
        if self.url is None and self.owner is None:
            raise ValueError("a runbook entry needs a url or an owner")
        return self


DEFAULT_INHIBITION = InhibitRule(
    name="service down",
    source=Match(alert_type=(AlertType.SERVICE_DOWN,)),
    target=Match(
        alert_type=(AlertType.TRAFFIC_DROP, AlertType.ERROR_SPIKE, AlertType.HIGH_LATENCY)
    ),
)


class RoutingRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    destinations: tuple[Destination, ...] = ()
    rules: tuple[Rule, ...] = ()
    inhibit: tuple[InhibitRule, ...] = (DEFAULT_INHIBITION,)
    runbooks: tuple[Runbook, ...] = ()
    source: str = "built-in rules"

    @model_validator(mode="after")
    def _references_resolve(self) -> RoutingRules:
        names = [d.name for d in self.destinations]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"destination names used twice: {duplicates}")
        for index, rule in enumerate(self.rules):
            unknown = [n for n in rule.send_to if n not in names]
            if unknown:
                label = rule.name or f"rule {index + 1}"
                raise ValueError(f"{label} sends to unknown destination(s) {unknown}")
        return self

    def destination(self, name: str) -> Destination | None:
        return next((d for d in self.destinations if d.name == name), None)

    def route(
        self, *, severity: Severity, service: str, alert_type: str, project: str
    ) -> list[Destination]:
        """The destinations for an alert with these attributes, in rule order, no repeats."""
        chosen: list[str] = []
        for rule in self.rules:
            if rule.match.accepts(
                severity=severity, service=service, alert_type=alert_type, project=project
            ):
                chosen.extend(n for n in rule.send_to if n not in chosen)
                if not rule.continue_:
                    break
        return [d for n in chosen if (d := self.destination(n)) is not None]

    def runbook_for(
        self, *, severity: Severity, service: str, alert_type: str, project: str
    ) -> Runbook | None:
        """The first runbook entry matching the alert; None when none does."""
        return next(
            (
                r
                for r in self.runbooks
                if r.match.accepts(
                    severity=severity, service=service, alert_type=alert_type, project=project
                )
            ),
            None,
        )

    def inhibited(
        self,
        *,
        severity: Severity,
        service: str,
        alert_type: str,
        project: str,
        open_alerts: list[tuple[str, Severity]],
    ) -> str | None:
        """The name of the inhibition rule that holds this alert back, given the other open
        (alert type, severity) pairs of its project and service; None when none does."""
        for index, rule in enumerate(self.inhibit):
            if not rule.target.accepts(
                severity=severity, service=service, alert_type=alert_type, project=project
            ):
                continue
            for other_type, other_severity in open_alerts:
                if other_type != alert_type and rule.source.accepts(
                    severity=other_severity,
                    service=service,
                    alert_type=other_type,
                    project=project,
                ):
                    return rule.name or f"inhibit rule {index + 1}"
        return None


def default_rules() -> RoutingRules:
    return RoutingRules.model_validate(_DEFAULT)


_DEFAULT: dict[str, Any] = {
    "destinations": [
        {"name": "slack-incidents", "toolkit": "slack", "channel": "#incidents"},
        {"name": "jira-ops", "toolkit": "jira", "project_key": "OPS", "issue_type": "Bug"},
        {"name": "pagerduty-oncall", "toolkit": "pagerduty", "service_id": "tracer-oncall"},
    ],
    "rules": [
        {"name": "critical", "match": {"severity": ["critical"]},
         "send_to": ["pagerduty-oncall", "slack-incidents"]},
        {"name": "high", "match": {"severity": ["high"]},
         "send_to": ["jira-ops", "slack-incidents"]},
        {"name": "medium", "match": {"severity": ["medium"]}, "send_to": ["slack-incidents"]},
    ],
}  # fmt: skip


def _parse(path: Path, text: str) -> Any:
    kind: Literal["toml", "yaml"] = "toml" if path.suffix.lower() == ".toml" else "yaml"
    try:
        if kind == "toml":
            return tomllib.loads(text)
        return yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise RoutingError(f"{path}: not valid {kind.upper()}: {exc}") from None


def load_rules(path: Path | None) -> RoutingRules:
    """The rules in `path` (TOML when it ends in .toml, else YAML), or the built-in rules."""
    if path is None:
        return default_rules()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoutingError(f"TRACER_ROUTING_FILE={path}: cannot read it ({exc.strerror})") from None
    data = _parse(path, text)
    if not isinstance(data, dict):
        raise RoutingError(f"{path}: expected a table with 'destinations' and 'rules'")
    try:
        return RoutingRules.model_validate({**data, "source": str(path)})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise RoutingError(f"{path}: {problems}") from None
