"""The agent's own credential for the local MCP sink.

The delivery worker and chat reach the sink over HTTP like any other MCP client, possibly on
another replica (TRACER_SINK_URL), so every replica must present and accept the same token
without configuration: the first replica to start stores a random one in PostgreSQL and the
others read it. TRACER_SINK_TOKEN overrides it (e.g. for a sink outside this database's
reach). Only the token's SHA-256 digest is compared, in constant time; the token itself is
kept out of reprs so that it cannot reach a log line by accident.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

import asyncpg
from pydantic import SecretStr

from tracer_agent.stores.secrets import SecretStore
from tracer_core.settings import SettingsError

log = logging.getLogger(__name__)

_SECRET_NAME = "sink_token"
MIN_LENGTH = 32


class SinkToken:
    __slots__ = ("_digest", "_token")

    def __init__(self, token: str) -> None:
        if len(token) < MIN_LENGTH:
            raise ValueError(f"a sink token needs at least {MIN_LENGTH} characters")
        self._token = token
        self._digest = _digest(token)

    def matches(self, candidate: str) -> bool:
        return hmac.compare_digest(_digest(candidate), self._digest)

    def headers(self) -> dict[str, str]:
        """What a client of the sink sends: `Authorization: Bearer <token>`."""
        return {"Authorization": f"Bearer {self._token}"}

    def __repr__(self) -> str:
        return "SinkToken('**********')"


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def configured_sink_token(setting: SecretStr | None) -> SinkToken | None:
    """TRACER_SINK_TOKEN as a token, None when unset. The error for a weak one names the
    variable, never the value (a settings validation error would print the value)."""
    if setting is None:
        return None
    if len(setting.get_secret_value()) < MIN_LENGTH:
        raise SettingsError(
            f"TRACER_SINK_TOKEN must have at least {MIN_LENGTH} characters "
            "(e.g. `openssl rand -hex 32`)"
        )
    return SinkToken(setting.get_secret_value())


async def load_sink_token(pool: asyncpg.Pool, setting: SecretStr | None) -> SinkToken:
    """The configured token, or the one all replicas share through the database (created by
    whichever replica asks first; a concurrent insert loses quietly and reads the winner's)."""
    configured = configured_sink_token(setting)
    if configured is not None:
        log.info("the local sink accepts the token from TRACER_SINK_TOKEN")
        return configured
    stored = await SecretStore(pool).shared(name=_SECRET_NAME, candidate=secrets.token_urlsafe(32))
    return SinkToken(stored)
