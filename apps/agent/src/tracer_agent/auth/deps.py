"""FastAPI dependencies that turn `Authorization: Bearer <key>` into a `Principal`.

401 when the key is missing, malformed, unknown or revoked; 403 when the key is valid but its
role may not use the endpoint; 429 when the client's address sent too many wrong keys lately
(see `FailedAuthLimiter`). No answer, nor any log line, repeats the key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

import asyncpg
from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tracer_agent.auth.keys import Principal, authenticate
from tracer_agent.auth.throttle import FailedAuthLimiter
from tracer_core.api_keys import parse_bearer
from tracer_core.models import Role

log = logging.getLogger(__name__)

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
# Declares the scheme in the OpenAPI spec; the header is parsed by `parse_bearer` below.
_BEARER = HTTPBearer(
    auto_error=False, scheme_name="ApiKey", description="A Tracer API key: trc_<prefix>_<secret>"
)


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def current_principal(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
) -> Principal:
    limiter: FailedAuthLimiter = request.app.state.auth_limiter
    address = _client_address(request)
    wait = limiter.retry_after(address)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed authentications from this address; retry later",
            headers={"Retry-After": str(wait)},
        )
    credential = parse_bearer(request.headers.get("authorization"))
    if credential is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send 'Authorization: Bearer <key>' (create one with "
            "'tracer keys create --role engineer')",
            headers=_CHALLENGE,
        )
    pool: asyncpg.Pool = request.app.state.pool
    principal = await authenticate(pool, credential)
    if principal is None:
        limiter.failed(address)
        log.info("refused an unknown or revoked API key on %s", request.url.path)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "invalid or revoked API key", headers=_CHALLENGE
        )
    return principal


def require_role(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    allowed = frozenset(roles)
    names = ", ".join(sorted(r.value for r in allowed))

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in allowed:
            log.info(
                "refused key %s (role %s) on an endpoint for %s",
                principal.prefix,
                principal.role.value,
                names,
            )
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this endpoint needs a key with role {names}; this key's role is "
                f"{principal.role.value}",
            )
        return principal

    return check


AdminUser = Annotated[Principal, Depends(require_role(Role.ADMIN))]
StaffUser = Annotated[Principal, Depends(require_role(Role.ADMIN, Role.ENGINEER))]
