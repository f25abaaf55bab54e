"""API keys: generated here, shown once, stored only as a SHA-256 hash.

A key reads `trc_<prefix>_<secret>`. The prefix is stored in clear so that a key can be
named in lists and logs without revealing it; the secret never leaves `create_key`'s return
value. Lookups go by hash (tracer_core.api_keys), so verifying a key is one indexed query;
the SQL lives in tracer_agent.stores.api_keys.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from tracer_agent.stores.api_keys import ApiKeyStore
from tracer_core.api_keys import hash_key
from tracer_core.models import Role

_KEY_SHAPE = re.compile(r"^trc_[a-z0-9]{8}_[A-Za-z0-9_-]{20,100}$")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id, name and role. `user_id` names the tool-router user."""

    key_id: int
    name: str
    role: Role
    prefix: str

    @property
    def user_id(self) -> str:
        return f"user:{self.name}"


@dataclass(frozen=True, slots=True)
class NewKey:
    principal: Principal
    secret: str  # the whole key; shown once, never stored
    created_at: datetime


def looks_like_key(value: str) -> bool:
    return bool(_KEY_SHAPE.match(value))


def generate_key() -> tuple[str, str]:
    """A fresh key and its prefix."""
    prefix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
    return f"trc_{prefix}_{secrets.token_urlsafe(32)}", prefix


async def create_key(pool: asyncpg.Pool, *, role: Role, name: str | None = None) -> NewKey:
    if name is not None and not (0 < len(name.strip()) <= 200):
        raise ValueError("a key name must have 1 to 200 characters")
    store = ApiKeyStore(pool)
    for _ in range(5):  # the prefix is unique; a clash among 36^8 prefixes is just retried
        key, prefix = generate_key()
        try:
            row = await store.insert(
                name=(name or f"{role.value}-{prefix}").strip(),
                role=role,
                prefix=prefix,
                key_hash=hash_key(key),
            )
        except asyncpg.UniqueViolationError:
            continue
        principal = Principal(key_id=row.id, name=row.name, role=role, prefix=prefix)
        return NewKey(principal=principal, secret=key, created_at=row.created_at)
    raise RuntimeError("could not generate a unique API key prefix")


async def authenticate(pool: asyncpg.Pool, key: str) -> Principal | None:
    """The principal for `key`, or None when it is malformed, unknown or revoked."""
    if not looks_like_key(key):
        return None
    row = await ApiKeyStore(pool).find_active(key_hash=hash_key(key))
    if row is None:
        return None
    return Principal(key_id=row.id, name=row.name, role=row.role, prefix=row.prefix)


async def revoke_key(pool: asyncpg.Pool, *, prefix: str) -> bool:
    return await ApiKeyStore(pool).revoke(prefix=prefix)
