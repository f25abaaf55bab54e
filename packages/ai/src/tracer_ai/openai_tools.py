"""Convert MCP tool listings to OpenAI function tools for the chat tool loop.

OpenAI function names must match ``^[a-zA-Z0-9_-]{1,64}$`` and parameters must be a JSON
Schema object; MCP servers promise neither. Names are sanitised (and made unique with a short
hash when needed), schemas are reduced to an object schema, and `OpenAiToolset.resolve` maps
the name the model calls back to the MCP tool name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tracer_ai.mcp_toolbox import ToolSpec

_INVALID = re.compile(r"[^a-zA-Z0-9_-]")
MAX_NAME = 64
MAX_DESCRIPTION = 1024
_DROP_KEYS = {"$schema", "$id", "title"}


def sanitize_name(name: str) -> str:
    clean = _INVALID.sub("_", name).strip("_") or "tool"
    if len(clean) <= MAX_NAME and clean == name:
        return clean
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    if len(clean) > MAX_NAME:
        clean = clean[: MAX_NAME - 9]
    return clean if clean == name else f"{clean}_{digest}"[:MAX_NAME]


def sanitize_schema(schema: Any) -> dict[str, Any]:
    """An object schema OpenAI accepts, keeping properties, required and nested definitions."""
    if not isinstance(schema, dict):
        return {"type": "object", "properties": {}}
    cleaned = {k: v for k, v in schema.items() if k not in _DROP_KEYS}
    if cleaned.get("type") != "object":
        if "properties" in cleaned:
            cleaned["type"] = "object"
        else:
            return {"type": "object", "properties": {"value": cleaned}, "required": ["value"]}
    if not isinstance(cleaned.get("properties"), dict):
        cleaned["properties"] = {}
    required = cleaned.get("required")
    if required is not None:
        names = cleaned["properties"]
        cleaned["required"] = [r for r in required if isinstance(r, str) and r in names]
        if not cleaned["required"]:
            del cleaned["required"]
    return cleaned


@dataclass
class OpenAiToolset:
    """OpenAI `tools=` entries plus the map from the names the model sees to MCP names."""

    tools: list[dict[str, Any]] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)

    def resolve(self, openai_name: str) -> str | None:
        return self.names.get(openai_name)

    def extend(self, other: OpenAiToolset) -> None:
        for tool in other.tools:
            name = tool["function"]["name"]
            if name not in self.names:
                self.tools.append(tool)
                self.names[name] = other.names[name]


def function_tool(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """One OpenAI function tool entry (also used for the agent's own incident tools)."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description[:MAX_DESCRIPTION],
            "parameters": sanitize_schema(parameters),
        },
    }


def mcp_tools_to_openai(
    specs: Iterable[ToolSpec], *, reserved: Iterable[str] = ()
) -> OpenAiToolset:
    """Convert `specs`; names in `reserved` (the caller's own tools) are never reused."""
    toolset = OpenAiToolset()
    taken = set(reserved)
    for spec in specs:
        name = sanitize_name(spec.name)
        if name in taken:
            digest = hashlib.sha1(spec.name.encode()).hexdigest()[:8]
            name = f"{name[: MAX_NAME - 9]}_{digest}"
        taken.add(name)
        toolset.names[name] = spec.name
        toolset.tools.append(function_tool(name, spec.description or spec.name, spec.input_schema))
    return toolset
