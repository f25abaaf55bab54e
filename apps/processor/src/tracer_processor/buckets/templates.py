"""Error messages grouped by template, so an alert can say what broke.

"timeout after 3012 ms calling 10.0.3.7 for order 8f14e45f-..." and the same line with other
numbers are one template, "timeout after <n> ms calling <ip> for order <uuid>". Each
(service, bucket) keeps a bounded sample: at most `MAX_SAMPLED` messages, grouped into at
most `MAX_TEMPLATES` templates, so a flood of errors costs a fixed amount of work.
"""

from __future__ import annotations

import re
from typing import Any

MAX_SAMPLED = 24
MAX_TEMPLATES = 8
MAX_MESSAGE_CHARS = 300

_HEX = "[0-9a-fA-F]"
_MASKS = [
    (re.compile(rf"\b{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}\b"), "<uuid>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"), "<n>"),
]  # fmt: skip
_SPACES = re.compile(r"\s+")
_NO_DIGITS = str.maketrans("", "", "0123456789")


def template_of(message: str) -> str:
    """The message with its variable parts (ids, numbers, addresses) masked."""
    text = message[: MAX_MESSAGE_CHARS * 2]
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    return _SPACES.sub(" ", text).strip()[:MAX_MESSAGE_CHARS]


class ErrorSamples:
    """A bounded sample of one bucket's error messages, grouped by template when read.

    Adding is a list append; templating waits for `top()`, which only runs for the few
    services that raise an alert, so a storm of errors across thousands of services costs
    almost nothing until someone needs the summary.
    """

    __slots__ = ("_messages",)

    def __init__(self) -> None:
        self._messages: list[str] = []

    @property
    def full(self) -> bool:
        return len(self._messages) >= MAX_SAMPLED

    @property
    def sampled(self) -> int:
        return len(self._messages)

    def add(self, message: str) -> None:
        if len(self._messages) < MAX_SAMPLED:
            self._messages.append(message[: MAX_MESSAGE_CHARS * 2])

    def top(self, limit: int = 5) -> list[dict[str, Any]]:
        """The most frequent templates, each with its count and one real example."""
        # Messages that differ only in their digits share a template: template one of each.
        by_shape: dict[str, list[Any]] = {}  # digits removed -> [count, example]
        for message in self._messages:
            entry = by_shape.setdefault(message.translate(_NO_DIGITS), [0, message])
            entry[0] += 1
        grouped: dict[str, list[Any]] = {}  # template -> [count, example]
        for count, example in by_shape.values():
            template = template_of(example)
            known = grouped.get(template)
            if known is not None:
                known[0] += count
            elif len(grouped) < MAX_TEMPLATES:
                grouped[template] = [count, example[:MAX_MESSAGE_CHARS]]
        ranked = sorted(grouped.items(), key=lambda item: (-item[1][0], item[0]))
        return [
            {"template": template, "count": count, "example": example}
            for template, (count, example) in ranked[:limit]
        ]
