"""Reading tool answers: the payload of a result, and values found inside it.

Answers arrive wrapped the Composio way (`{"successful", "data", "error"}`), sometimes one
level deeper when they came through the multi-execute meta tool; these helpers look inside
either, so each destination only names the keys it wants.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from tracer_ai.destinations.base import UnreadableAnswerError


def result_payload(result: Any) -> Any:
    """The structured value of a tool result: a dict, a ToolResult-like object, or JSON text."""
    structured = getattr(result, "structured", None)
    if structured is not None:
        return structured
    text = getattr(result, "text", result)
    if isinstance(text, str):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return None
    return text


def find_value(value: Any, keys: Iterable[str], depth: int = 0) -> str | None:
    """Breadth-first search for the first string/number under one of `keys`."""
    wanted = tuple(keys)
    if depth > 6:
        return None
    if isinstance(value, Mapping):
        for key in wanted:
            found = value.get(key)
            if isinstance(found, str) and found:
                return found
            if isinstance(found, int) and not isinstance(found, bool):
                return str(found)
        for child in value.values():
            hit = find_value(child, wanted, depth + 1)
            if hit:
                return hit
    elif isinstance(value, list):
        for child in value:
            hit = find_value(child, wanted, depth + 1)
            if hit:
                return hit
    return None


def find_mapping(value: Any, key: str, depth: int = 0) -> Mapping[str, Any] | None:
    """The first mapping stored under `key`, at any depth."""
    if depth > 6:
        return None
    if isinstance(value, Mapping):
        found = value.get(key)
        if isinstance(found, Mapping):
            return found
        for child in value.values():
            hit = find_mapping(child, key, depth + 1)
            if hit is not None:
                return hit
    elif isinstance(value, list):
        for child in value:
            hit = find_mapping(child, key, depth + 1)
            if hit is not None:
                return hit
    return None


def service_data(payload: Any) -> Any:
    """The service's own answer inside Composio's wrapper(s)."""
    for _ in range(3):
        if isinstance(payload, Mapping) and "data" in payload and "successful" in payload:
            payload = payload["data"]
        else:
            break
    return payload


def data_field(payload: Any, key: str) -> Any:
    """One field of the service's answer, or None when the answer is not a mapping."""
    data = service_data(payload)
    return data.get(key) if isinstance(data, Mapping) else None


def listed(payload: Any, *keys: str) -> list[Any]:
    """The list a search answered with, under the first of `keys` present.

    Raises UnreadableAnswerError when there is no such list (another result shape, or a
    large answer the tool router offloaded): a probe must not read that as "not found".
    """
    data = service_data(payload)
    if isinstance(data, Mapping):
        for key in keys:
            value = data.get(key)
            if isinstance(value, list):
                return value
    if isinstance(data, list):
        return data
    shape = sorted(data)[:8] if isinstance(data, Mapping) else type(data).__name__
    raise UnreadableAnswerError(f"the answer has no {' or '.join(keys)} list (got {shape})")


def text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""
