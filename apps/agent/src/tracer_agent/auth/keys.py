"""API keys: generated here, shown once, stored only as a SHA-256 hash.

A key reads `trc_<prefix>_<secret>`. The prefix is stored in clear so that a key can be
named in lists and logs without revealing it; the secret never leaves `create_key`'s return
value. Lookups go by hash, so verifying a key is one indexed query.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from tracer_core.models import Role

_KEY_SHAPE = re.compile(r"^trc_[a-z0-9]{8}_[A-Za-z0-9_-]{20,100}$")
# Writing last_used_at on every request would turn each read into a write.
_LAST_USED_RESOLUTION = "1 minute"


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


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(value: str) -> bool:
    return bool(_KEY_SHAPE.match(value))


def generate_key() -> tuple[str, str]:
    """A fresh key and its prefix."""
    prefix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
    return f"trc_{prefix}_{secrets.token_urlsafe(32)}", prefix


async def create_key(pool: asyncpg.Pool, *, role: Role, name: str | None = None) -> NewKey:
    if name is not None and not (0 < len(name.strip()) <= 200):
        raise ValueError("a key name must have 1 to 200 characters")
    for _ in range(5):  # the prefix is unique; a clash among 36^8 prefixes is just retried
        key, prefix = generate_key()
        try:
            row = await pool.fetchrow(
                """
                INSERT INTO api_keys (name, role, prefix, key_hash)
                VALUES ($1, $2, $3, $4)
                RETURNING id, name, created_at
                """,
                (name or f"{role.value}-{prefix}").strip(),
                role.value,
                prefix,
                hash_key(key),
            )
        except asyncpg.UniqueViolationError:
            continue
        assert row is not None
        principal = Principal(key_id=row["id"], name=row["name"], role=role, prefix=prefix)
        return NewKey(principal=principal, secret=key, created_at=row["created_at"])
    raise RuntimeError("could not generate a unique API key prefix")


async def authenticate(pool: asyncpg.Pool, key: str) -> Principal | None:
    """The principal for `key`, or None when it is malformed, unknown or revoked."""
    if not looks_like_key(key):
        return None
    row = await pool.fetchrow(
        f"""
        UPDATE api_keys SET last_used_at = now()
        WHERE key_hash = $1 AND revoked_at IS NULL
          AND (last_used_at IS NULL OR last_used_at < now() - interval '{_LAST_USED_RESOLUTION}')
        RETURNING id, name, role, prefix
        """,
        hash_key(key),
    )
    if row is None:
        row = await pool.fetchrow(
            """
            SELECT id, name, role, prefix FROM api_keys
            WHERE key_hash = $1 AND revoked_at IS NULL
            """,
            hash_key(key),
        )
    if row is None:
        return None
    return Principal(
        key_id=row["id"], name=row["name"], role=Role(row["role"]), prefix=row["prefix"]
    )


async def revoke_key(pool: asyncpg.Pool, *, prefix: str) -> bool:
    status = await pool.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE prefix = $1 AND revoked_at IS NULL", prefix
    )
    return status.endswith(" 1")
