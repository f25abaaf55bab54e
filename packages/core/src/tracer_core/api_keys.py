"""API keys as both apps see them: read from `Authorization: Bearer <key>` and stored only as a
SHA-256 hex digest in `api_keys` (the agent creates keys; the agent and the processor verify
them by digest)."""

from __future__ import annotations

import hashlib

# Longer credentials are refused before hashing: no key or token Tracer issues comes close.
MAX_CREDENTIAL_LENGTH = 512


def hash_key(key: str) -> str:
    """The digest stored in `api_keys.key_hash`."""
    return hashlib.sha256(key.encode()).hexdigest()


def parse_bearer(authorization: str | None) -> str | None:
    """The credential of an `Authorization: Bearer <credential>` header, or None when the
    header is missing, uses another scheme, is empty or is implausibly long."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > MAX_CREDENTIAL_LENGTH:
        return None
    return value
