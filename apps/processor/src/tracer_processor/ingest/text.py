"""Text cleaned once, at the edge, so nothing downstream has to be careful.

PostgreSQL refuses NUL in `text` and `\\u0000` in `jsonb`; terminal escapes (ESC) and bidi
overrides (U+202A-U+202E, U+2066-U+2069) in a service name would reach Slack text,
PagerDuty titles and dedup keys. Names lose such characters; messages keep them visible as
`\\u001b`-style escapes (tab and newline stay). Lone surrogates cannot be encoded at all, so
they go the same way.

Bodies that are not valid UTF-8, or whose JSON escapes a lone surrogate, are repaired into a
valid document in which each bad spot carries `BAD_TEXT_MARK`; the record holding it is then
rejected alone (`marks_bad_text`), and the other records of the batch are kept.
"""

from __future__ import annotations

import codecs
import re

# C0 and C1 controls but tab/newline/CR, DEL, bidi embeddings/overrides/isolates, surrogates.
_UNSAFE_IN_MESSAGE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_UNSAFE_IN_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

BAD_TEXT_MARK = "\ufdd0"  # a Unicode noncharacter: never part of real text
_MARK_BYTES = BAD_TEXT_MARK.encode()
BAD_TEXT_ERROR = "the record is not valid UTF-8 (an invalid byte or a lone surrogate escape)"
_ERROR_HANDLER = "tracer-mark-bad-text"


def _mark(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return BAD_TEXT_MARK, exc.end


codecs.register_error(_ERROR_HANDLER, _mark)

# A \uXXXX surrogate escape not preceded by an escaped backslash: high (+ low) or low alone.
_SURROGATE_ESCAPE = re.compile(
    rb"(?<!\\)((?:\\\\)*)\\u([dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    rb"|(?<!\\)((?:\\\\)*)\\u([dD][c-fC-F][0-9a-fA-F]{2})"
)


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def clean_message(text: str) -> str:
    """The message with unsafe characters written out as visible `\\uXXXX` escapes."""
    if _UNSAFE_IN_MESSAGE.search(text) is None:
        return text
    return _UNSAFE_IN_MESSAGE.sub(_escape, text)


def clean_name(text: str) -> str:
    """A service or project name without control, bidi or surrogate characters (may be "")."""
    if _UNSAFE_IN_NAME.search(text) is None:
        return text
    return _UNSAFE_IN_NAME.sub("", text).strip()


def clean_names(names: list[str]) -> list[str]:
    """`clean_name` over a column; names of one batch repeat, so each is cleaned once."""
    distinct = set(names)
    if _UNSAFE_IN_NAME.search("".join(distinct)) is None:  # the usual case: one scan, in C
        return names
    cleaned = {name: clean_name(name) for name in distinct}
    if all(before == after for before, after in cleaned.items()):
        return names
    return [cleaned[name] for name in names]


def _surrogate_fix(match: re.Match[bytes]) -> bytes:
    if match.group(2) is not None:
        if match.group(3) is not None:  # a proper pair
            return match.group()
        return match.group(1) + _MARK_BYTES
    return match.group(4) + _MARK_BYTES


def repair_body(body: bytes) -> bytes:
    """`body` made valid UTF-8 without lone surrogate escapes, bad spots marked."""
    text = body.decode("utf-8", _ERROR_HANDLER)
    repaired = text.encode() if BAD_TEXT_MARK in text else body
    if b"\\u" in repaired:
        repaired = _SURROGATE_ESCAPE.sub(_surrogate_fix, repaired)
    return repaired


def marks_bad_text(raw: bytes) -> bool:
    return _MARK_BYTES in raw
