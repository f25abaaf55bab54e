"""An ASGI middleware that refuses hostile requests before any route, parser or auth sees them.

- A body larger than `max_body_bytes` is a 413: at once when `Content-Length` says so (nothing
  is read), else as soon as the streamed bytes pass the limit (reading stops there).
- A NUL byte in the path or the query string is a 400: PostgreSQL text cannot hold one, and a
  NUL that reached SQL would be a 500.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def _has_nul(scope: Scope) -> bool:
    if "\x00" in scope.get("path", ""):
        return True
    raw_path: bytes = scope.get("raw_path") or b""
    query: bytes = scope.get("query_string") or b""
    return any(b"\x00" in unquote_to_bytes(part) for part in (raw_path, query) if part)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"the request body is larger than {limit} bytes")


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self._app = app
        self._limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if _has_nul(scope):
            await JSONResponse(
                {"detail": "the path or query string contains a NUL byte"}, status_code=400
            )(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self._limit:
            log.info("refused a %d-byte body on %s", declared, scope.get("path"))
            await JSONResponse(
                {"detail": too_large(self._limit).detail},
                status_code=413,
                headers={"connection": "close"},
            )(scope, receive, send)
            return
        await self._app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        seen = 0
        limit = self._limit

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # An HTTPException passes through FastAPI's body parsing unchanged and
                    # becomes the 413 answer; the rest of the body is never read.
                    raise too_large(limit)
            return message

        return counted
