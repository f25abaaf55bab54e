"""Recorded copies of the input (and, where known, output) schemas of every tool Tracer calls.

One JSON file per tool, named after it, carries the schema and where it came from: `source`
and `recorded` say which public recording it was read from and when, `recording_found` is
false where none was found (the file then lists only the arguments Tracer sends). The local
sink serves exactly these schemas and refuses calls that do not validate; the agent checks
Tracer's own arguments against the live schemas at start (`tracer_ai.schema_check`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError


@dataclass(frozen=True)
class RecordedSchema:
    tool: str
    toolkit: str
    version: str | None
    recorded: str
    source: str
    recording_found: bool
    notes: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None

    @property
    def label(self) -> str:
        """Version and date as `tracer doctor` shows them."""
        version = self.version or "version not recorded"
        return f"{version}, {self.recorded}" + ("" if self.recording_found else ", no recording")


@cache
def recorded_schemas() -> dict[str, RecordedSchema]:
    """Every recorded schema, by tool name."""
    found: dict[str, RecordedSchema] = {}
    for entry in resources.files(__package__).iterdir():
        if not entry.name.endswith(".json"):
            continue
        raw = json.loads(entry.read_text(encoding="utf-8"))
        schema = RecordedSchema(**raw)
        found[schema.tool] = schema
    return found


def recorded_schema(tool: str) -> RecordedSchema | None:
    return recorded_schemas().get(tool)


def _describe(error: ValidationError) -> list[str]:
    where = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        extra = sorted(str(key) for key in error.instance if key not in known)
        prefix = f"{where}." if where else ""
        return [f"unexpected argument '{prefix}{name}'" for name in extra]
    if error.validator == "required":
        return [f"missing required argument: {error.message}"]
    return [f"argument '{where or '(root)'}': {error.message}"]


def argument_problems(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[str]:
    """Why `arguments` would not validate against `schema` (empty when they do)."""
    validator = Draft202012Validator(dict(schema))
    problems: list[str] = []
    for error in sorted(validator.iter_errors(dict(arguments)), key=lambda e: list(e.path)):
        problems.extend(_describe(error))
    return problems
