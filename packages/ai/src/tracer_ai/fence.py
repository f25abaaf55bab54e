"""Fences around untrusted text in prompts (log messages, tool results).

The text inside a fence is one JSON value in which `<`, `>` and `&` are escaped as `\\u003c`,
`\\u003e` and `\\u0026`, so no closing tag can appear in it whatever the logs say; the tag
also carries a random boundary, so a guessed closing tag cannot match either. Control and
bidi characters (ESC sequences, U+202E) are removed from every string first.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_ANGLES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def strip_controls(text: str) -> str:
    """Control and bidi characters replaced by a space (newlines and tabs kept)."""
    return _CONTROL.sub(" ", text)


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return strip_controls(value)
    if isinstance(value, dict):
        return {strip_controls(str(k)): _cleaned(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_cleaned(v) for v in value]
    return value


def encode_untrusted(value: Any, *, indent: int | None = None) -> str:
    """`value` as JSON with control characters removed and no literal angle brackets."""
    text = json.dumps(_cleaned(value), ensure_ascii=False, indent=indent, default=str)
    return re.sub(r"[<>&]", lambda match: _ANGLES[match.group()], text)


def new_boundary() -> str:
    return secrets.token_hex(8)


def fence(tag: str, value: Any, *, boundary: str | None = None, indent: int | None = None) -> str:
    """`value` JSON-encoded between `<tag boundary="…">` and `</tag boundary="…">`."""
    mark = boundary or new_boundary()
    body = encode_untrusted(value, indent=indent)
    return f'<{tag} boundary="{mark}">\n{body}\n</{tag} boundary="{mark}">'
