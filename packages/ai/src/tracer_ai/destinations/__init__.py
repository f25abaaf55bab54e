"""The destinations alerts are delivered to, by toolkit name.

Each module holds everything about one destination: its tool names, how a summary becomes
tool arguments, which tool opens, escalates and resolves (and with which thread state), the
crash-recovery probe, and how its answers are read. The delivery worker, the tool router's
preload list and the local MCP sink's tool names all come from here.

Adding a destination takes one new module implementing `Destination` (see `base`) and one
line in `DESTINATIONS` below: the worker plans, records and probes it, and the tool router
preloads its tools, with no other change (tests/agent/test_destination_registry.py). The
local sink needs tool functions for it only if it must serve that destination on one
machine. Routing files still accept only the toolkit names of `tracer_core.models.Toolkit`,
which the database's toolkit columns also check.
"""

from __future__ import annotations

from collections.abc import Sequence

from tracer_ai.destinations.base import Destination
from tracer_ai.destinations.gmail import GMAIL
from tracer_ai.destinations.jira import JIRA
from tracer_ai.destinations.pagerduty import PAGERDUTY
from tracer_ai.destinations.slack import SLACK
from tracer_ai.destinations.webhook import WEBHOOK

DESTINATIONS: dict[str, Destination] = {
    destination.name: destination for destination in (SLACK, JIRA, PAGERDUTY, GMAIL, WEBHOOK)
}


class UnknownDestinationError(LookupError):
    pass


def destination_for(name: str) -> Destination:
    """The registered destination for a toolkit name."""
    try:
        return DESTINATIONS[name]
    except KeyError:
        raise UnknownDestinationError(f"no destination is registered for {name!r}") from None


def tool_router_toolkits() -> tuple[str, ...]:
    """The destinations reached through tool-router toolkits (all but plain webhooks)."""
    return tuple(name for name, destination in DESTINATIONS.items() if destination.routing_tools)


def routing_tools(names: Sequence[str] | None = None) -> tuple[str, ...]:
    """The tools alert delivery calls on the given destinations (all when None)."""
    chosen = DESTINATIONS if names is None else [n for n in names if n in DESTINATIONS]
    return tuple(tool for name in chosen for tool in DESTINATIONS[name].routing_tools)


__all__ = [
    "DESTINATIONS",
    "Destination",
    "UnknownDestinationError",
    "destination_for",
    "routing_tools",
    "tool_router_toolkits",
]
