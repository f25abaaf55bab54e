"""Checks every request passes before any route sees it.

* A browser page must not be able to send logs or read alerts: a request carrying an
  `Origin` that is not in `TRACER_ALLOWED_ORIGINS` is refused (403), and CORS preflights get
  no `Access-Control-Allow-*` answer. Non-browser clients send no `Origin` and are unaffected.
* With `TRACER_ALLOWED_HOSTS` set, the `Host` header must name one of them (DNS rebinding).
* A NUL or other control character in the path or the query string is a 400, not a lookup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote_to_bytes

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


class RequestGuard:
    def __init__(
        self, app: ASGIApp, *, allowed_origins: Sequence[str], allowed_hosts: Sequence[str]
    ) -> None:
        self.app = app
        self._origins = {origin.rstrip("/").lower() for origin in allowed_origins}
        self._hosts = {host.lower() for host in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, message = refusal
        body = orjson.dumps({"error": message})
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"vary", b"Origin"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        if origin is not None and origin.decode("latin-1").rstrip("/").lower() not in self._origins:
            return 403, "cross-origin requests are refused (see TRACER_ALLOWED_ORIGINS)"
        if scope["method"] == "OPTIONS":
            return 403, "cross-origin requests are refused (see TRACER_ALLOWED_ORIGINS)"
        if self._hosts:
            host = headers.get(b"host", b"").decode("latin-1").lower()
            name = host[: host.rindex(":")] if re.search(r":\d+$", host) else host
            if name not in self._hosts and host not in self._hosts:
                return 421, "this Host is not served here (see TRACER_ALLOWED_HOSTS)"
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        if _CONTROL.search(unquote_to_bytes(raw_path)) or _CONTROL.search(
            unquote_to_bytes(scope.get("query_string", b""))
        ):
            return 400, "control characters (such as NUL) are not allowed in the URL"
        return None
