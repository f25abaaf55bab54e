"""Destination settings and open threads for the destination tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

HOSTILE = "<!channel> <script>alert(1)</script> & `rm -rf /` <https://evil.example|click>"


@dataclass(frozen=True)
class Target:
    channel: str | None = None
    project_key: str | None = None
    issue_type: str = "Task"
    resolve_transition: str = "Done"
    reopen_transition: str = "To Do"
    service_id: str | None = None
    recipients: tuple[str, ...] = ()
    url: str | None = None


@dataclass(frozen=True)
class Thread:
    thread_ref: str
    data: Mapping[str, Any] = field(default_factory=dict)
