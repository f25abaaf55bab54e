"""Console sessions: an API key signs in once; the browser then holds only a random session
token in an HttpOnly, SameSite=Lax cookie (Secure when the public URL is https). The database
keeps the token's digest and the session's CSRF token; a revoked key ends its sessions.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass

from fastapi import Request, Response

from tracer_agent.auth.keys import Principal, authenticate
from tracer_agent.settings import AgentSettings
from tracer_agent.stores.sessions import SessionStore
from tracer_core.api_keys import hash_key
from tracer_core.auth_limit import FailedAuthLimiter
from tracer_core.models import Role

log = logging.getLogger(__name__)

SESSION_COOKIE = "tracer_session"
LOGIN_CSRF_COOKIE = "tracer_login_csrf"
SESSION_SECONDS = 12 * 3600
STAFF = frozenset({Role.ENGINEER, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    principal: Principal
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        return self.principal.role is Role.ADMIN


class SignInRefusedError(Exception):
    """The key is unknown, revoked, or of a role that may not use the console."""


class SignInThrottledError(Exception):
    """This address sent too many wrong keys lately (the API's limiter)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry in {retry_after} s")
        self.retry_after = retry_after


class NotSignedInError(Exception):
    """No live session: pages redirect to the sign-in form."""


class ForbiddenError(Exception):
    """Signed in, but not allowed (a role, or a POST without the CSRF token): a 403 page."""


def secure_cookies(settings: AgentSettings) -> bool:
    return settings.incident_link_base.lower().startswith("https://")


def set_cookie(response: Response, settings: AgentSettings, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
        path="/",
    )


async def sign_in(request: Request, key: str) -> tuple[str, ConsoleUser]:
    """A new session for `key`; returns the cookie value and the signed-in user."""
    pool = request.app.state.pool
    limiter: FailedAuthLimiter = request.app.state.auth_limiter
    address = request.client.host if request.client else "unknown"
    wait = limiter.retry_after(address)
    if wait is not None:
        raise SignInThrottledError(wait)
    principal = await authenticate(pool, key.strip())
    if principal is None:
        limiter.failed(address)
        raise SignInRefusedError
    if principal.role not in STAFF:
        raise SignInRefusedError
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await SessionStore(pool).create(
        token_hash=hash_key(token),
        api_key_id=principal.key_id,
        csrf_token=csrf,
        lifetime_seconds=SESSION_SECONDS,
    )
    log.info("console sign-in with key %s (%s)", principal.prefix, principal.role.value)
    return token, ConsoleUser(principal=principal, csrf_token=csrf)


async def sign_out(request: Request) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await SessionStore(request.app.state.pool).delete(token_hash=hash_key(token))


async def current_user(request: Request) -> ConsoleUser:
    """The signed-in user (a dependency of every page); raises NotSignedInError."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NotSignedInError
    row = await SessionStore(request.app.state.pool).find(token_hash=hash_key(token))
    if row is None or row.role not in STAFF:
        raise NotSignedInError
    principal = Principal(
        key_id=row.api_key_id, name=row.key_name, role=row.role, prefix=row.key_prefix
    )
    return ConsoleUser(principal=principal, csrf_token=row.csrf_token)


async def form_user(request: Request) -> ConsoleUser:
    """The signed-in user of a POST, which must carry the session's CSRF token (form field
    `csrf_token` or header `X-CSRF-Token`); 403 otherwise."""
    user = await current_user(request)
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, user.csrf_token):
        log.info("refused a console POST without a valid CSRF token on %s", request.url.path)
        raise ForbiddenError("this form was sent without a valid CSRF token; reload the page")
    return user


async def admin_user(request: Request) -> ConsoleUser:
    user = await current_user(request)
    if not user.is_admin:
        raise ForbiddenError("this page needs an admin key")
    return user


async def admin_form_user(request: Request) -> ConsoleUser:
    user = await form_user(request)
    if not user.is_admin:
        raise ForbiddenError("this action needs an admin key")
    return user
