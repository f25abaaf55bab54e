"""What every destination provides, and the plan a delivery carries out.

A first event opens a thread on a destination (a Slack message, a Jira issue, a PagerDuty
incident, a mail); later events reply into it. Each step carries a marker unique to the
delivery and step, placed where the destination keeps it, and, where the destination can be
searched, a probe that finds an earlier call carrying that marker: a worker that died between
calling and recording leaves the next worker a way to tell "sent" from "never arrived".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from tracer_ai.summary import AlertContext, AlertSummary
from tracer_ai.tool_call import ToolCall

Reader = Callable[[Any], dict[str, Any]]
Finder = Callable[[Any, str], dict[str, Any] | None]


class UnreadableAnswerError(ValueError):
    """A call succeeded but its answer lacks the identifier later events need."""


class Target(Protocol):
    """The settings of one configured destination (a routing file entry)."""

    @property
    def channel(self) -> str | None: ...
    @property
    def project_key(self) -> str | None: ...
    @property
    def issue_type(self) -> str: ...
    @property
    def resolve_transition(self) -> str: ...
    @property
    def reopen_transition(self) -> str: ...
    @property
    def service_id(self) -> str | None: ...
    @property
    def recipients(self) -> Sequence[str]: ...


class OpenThread(Protocol):
    """Where earlier messages about the alert went on this destination."""

    @property
    def thread_ref(self) -> str: ...
    @property
    def data(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class ThreadOpened:
    """What a thread-opening step created: its reference, channel and extra state."""

    ref: str
    channel: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Probe:
    """A read-only call that finds an earlier step by its marker: `find(payload, marker)`."""

    call: ToolCall
    find: Finder


@dataclass(frozen=True)
class Step:
    name: str
    call: ToolCall
    read: Reader  # the tool's answer -> what to record (ts, issue key, incident id ...)
    marker: str
    probe: Callable[[datetime], Probe] | None = None  # given when the lost call started
    opens_thread: bool = False


@dataclass(frozen=True)
class Skip:
    """Nothing to send, and why (recorded as the delivery's result)."""

    reason: str


Plan = list[Step] | Skip


def marker_for(delivery_id: int, step: str) -> str:
    return f"tracer-d{delivery_id}-{step}"


def reference_note(marker: str) -> str:
    """How a marker reads in the text people see, where it cannot live elsewhere: a short
    footer ("Tracer ref d7-post") that lets a restarted agent find the message."""
    return f"Tracer ref {marker.removeprefix('tracer-')}"


def carries_marker(text: str, marker: str) -> bool:
    """Whether `text` holds the marker, as a footer or (messages sent by earlier versions)
    in its raw form."""
    return reference_note(marker) in text or marker in text


@dataclass(frozen=True)
class PlanRequest:
    """One delivery to plan: which delivery, where to, about what, and any earlier thread."""

    delivery_id: int
    target: Target
    ctx: AlertContext
    summary: AlertSummary
    thread: OpenThread | None

    def marker(self, step: str) -> str:
        return marker_for(self.delivery_id, step)


class Destination(Protocol):
    """One kind of destination: its tools, its rendering, its plan and its answers."""

    @property
    def name(self) -> str:
        """The toolkit name routing files use (``toolkit = "slack"``)."""
        ...

    @property
    def routing_tools(self) -> tuple[str, ...]:
        """The tools alert delivery calls; a tool-router session preloads them."""
        ...

    def plan(self, request: PlanRequest) -> Plan:
        """The steps that deliver this event, or why nothing is sent.

        Raises ValueError when the target's settings cannot be rendered.
        """
        ...

    def opened_thread(
        self, target: Target, ctx: AlertContext, result: Mapping[str, Any]
    ) -> ThreadOpened | None:
        """The thread a thread-opening step's recorded result stands for."""
        ...
