"""Assertions the processor's tests share."""

from __future__ import annotations


def all_finite(value: object) -> bool:
    """True when every float anywhere in a JSON-like value is finite (no inf, no NaN)."""
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, dict):
        return all(all_finite(item) for item in value.values())
    if isinstance(value, list | tuple):
        return all(all_finite(item) for item in value)
    return True
