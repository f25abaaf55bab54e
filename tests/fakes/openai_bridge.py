"""Route httpx2 traffic (openai 3.x, mcp 2.x clients) through a respx router.

respx patches `httpx` only. `respx_transport(router)` is an `httpx2.MockTransport` whose
handler converts each httpx2 request to an httpx request, lets the respx router answer it
(routes, side effects, call recording all work as usual), and converts the answer back.
An httpx exception raised by a route (``side_effect=httpx.ReadTimeout``) becomes the httpx2
exception of the same name, so the SDK sees a genuine transport failure.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import httpx2
import respx


def _to_httpx(request: httpx2.Request) -> httpx.Request:
    return httpx.Request(
        request.method,
        str(request.url),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
        content=request.content,
    )


def _to_httpx2_error(exc: httpx.HTTPError, request: httpx2.Request) -> Exception:
    kind = getattr(httpx2, type(exc).__name__, httpx2.TransportError)
    if isinstance(kind, type) and issubclass(kind, httpx2.RequestError):
        return kind(str(exc) or type(exc).__name__, request=request)
    return httpx2.TransportError(str(exc), request=request)


def respx_transport(router: respx.Router) -> httpx2.MockTransport:
    async def handle(request: httpx2.Request) -> httpx2.Response:
        try:
            answer = await router.async_handler(_to_httpx(request))
        except httpx.HTTPError as exc:
            raise _to_httpx2_error(exc, request) from exc
        content = await answer.aread()
        headers = [
            (k, v) for k, v in answer.headers.multi_items() if k.lower() != "content-encoding"
        ]
        return httpx2.Response(answer.status_code, headers=headers, content=content)

    return httpx2.MockTransport(handle)


def bridged_client(router: respx.Router, **kwargs: Any) -> httpx2.AsyncClient:
    """An `httpx2.AsyncClient` whose requests all go to `router`."""
    return httpx2.AsyncClient(transport=respx_transport(router), **kwargs)


def chat_completion(
    content: str | None = None,
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    model: str = "gpt-4.1-mini",
    prompt_tokens: int = 120,
    completion_tokens: int = 60,
    finish_reason: str = "stop",
) -> dict[str, Any]:
    """A chat.completions response body as the OpenAI API sends it."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
        finish_reason = "tool_calls"
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def function_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
