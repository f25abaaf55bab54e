"""One tool call, as every part of the AI layer passes it around."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    """A tool to call and its arguments, independent of how it is reached (MCP, meta tool)."""

    slug: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def with_arguments(self, **changes: Any) -> ToolCall:
        """The same call with some arguments replaced or added."""
        return replace(self, arguments={**self.arguments, **changes})
