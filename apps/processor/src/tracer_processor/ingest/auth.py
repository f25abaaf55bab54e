"""Optional API keys on the processor (`TRACER_REQUIRE_INGEST_KEY`).

Keys are the ones `tracer keys create` makes: stored as a SHA-256 hex digest in `api_keys`.
Ingest needs role `ingest` or `admin`; reading alerts and services needs any valid key.
Verified hashes are cached for a short while, so the ingest hot path does not query the
database on every request; a revoked key stops working within that time. While the database
is unreachable, keys verified recently keep working and unknown ones get 503, not 401.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum

import asyncpg

from tracer_core.api_keys import hash_key, parse_bearer
from tracer_core.clock import Clock
from tracer_core.models import Role

log = logging.getLogger(__name__)

_LOOKUP = """
UPDATE api_keys SET last_used_at = now()
WHERE key_hash = $1 AND revoked_at IS NULL
RETURNING role
"""
_MAX_CACHED = 10_000
_NEGATIVE_TTL = 5.0


class Access(Enum):
    INGEST = "ingest"
    READ = "read"


class AuthError(Exception):
    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class _Entry:
    role: Role | None  # None: no such (active) key
    expires: float


class KeyVerifier:
    def __init__(self, pool: asyncpg.Pool, *, clock: Clock, cache_seconds: float) -> None:
        self._pool = pool
        self._clock = clock
        self._ttl = cache_seconds
        self._cache: OrderedDict[str, _Entry] = OrderedDict()

    async def check(self, authorization: str | None, access: Access) -> str:
        """The key's identity (a prefix of its hash, for quotas); raises `AuthError` (401,
        403 or 503) unless the header carries a fitting key."""
        key = parse_bearer(authorization)
        if key is None:
            raise AuthError(401, "an API key is required: Authorization: Bearer <key>")
        key_hash = hash_key(key)
        role = await self._role_of(key_hash)
        if role is None:
            raise AuthError(401, "unknown or revoked API key")
        if access is Access.INGEST and role not in (Role.INGEST, Role.ADMIN):
            raise AuthError(403, f"a {role.value} key cannot send logs; use an ingest key")
        return key_hash[:16]

    async def _role_of(self, key_hash: str) -> Role | None:
        now = self._clock.monotonic()
        entry = self._cache.get(key_hash)
        if entry is not None and entry.expires > now:
            return entry.role
        try:
            row = await self._pool.fetchrow(_LOOKUP, key_hash, timeout=5.0)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            if entry is not None and entry.role is not None:
                log.warning("cannot verify API keys (%s); trusting a recently verified key", exc)
                return entry.role
            raise AuthError(503, "cannot verify the API key: the database is unavailable") from exc
        role = Role(row["role"]) if row is not None else None
        ttl = self._ttl if role is not None else min(self._ttl, _NEGATIVE_TTL)
        self._cache[key_hash] = _Entry(role, now + ttl)
        self._cache.move_to_end(key_hash)
        while len(self._cache) > _MAX_CACHED:
            self._cache.popitem(last=False)
        return role
