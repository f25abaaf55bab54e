"""Sign in with an API key, and sign out. The sign-in form is protected by a double-submit
token (a cookie and a form field that must match), since there is no session yet."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tracer_agent.console.rendering import render
from tracer_agent.console.session import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    ConsoleUser,
    ForbiddenError,
    SignInRefusedError,
    SignInThrottledError,
    form_user,
    set_cookie,
    sign_in,
    sign_out,
)

router = APIRouter(include_in_schema=False)


def safe_next(value: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _login_page(request: Request, *, next_path: str, error: str | None, code: int) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        None,
        status_code=code,
        csrf_token=token,
        next_path=next_path,
        error=error,
    )
    set_cookie(response, request.app.state.settings, LOGIN_CSRF_COOKIE, token)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, next_path=safe_next(next), error=None, code=200)


@router.post("/login")
async def login(
    request: Request,
    api_key: Annotated[str, Form(max_length=300)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not csrf_token or not expected or not hmac.compare_digest(csrf_token, expected):
        raise ForbiddenError("the sign-in form was sent without its CSRF token; reload it")
    try:
        token, _ = await sign_in(request, api_key)
    except SignInThrottledError as exc:
        response = _login_page(
            request,
            next_path=safe_next(next),
            error=f"Too many wrong keys from this address: try again in {exc.retry_after} s.",
            code=429,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except SignInRefusedError:
        return _login_page(
            request,
            next_path=safe_next(next),
            error="That key cannot sign in: it is unknown, revoked, or an ingest key "
            "(the console takes engineer and admin keys).",
            code=401,
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(response, request.app.state.settings, SESSION_COOKIE, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, user: Annotated[ConsoleUser, Depends(form_user)]) -> Response:
    await sign_out(request)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
