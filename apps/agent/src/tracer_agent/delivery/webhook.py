"""The HTTP side of webhook destinations: POST the step's JSON body, signed when a secret is
configured, and report the answer the way a tool call's answer is reported, so the delivery
executor retries, rate-limits and dead-letters webhooks like every other destination.

2xx is delivered; 429 and 5xx, timeouts and connection failures are retried; any other 4xx
is a permanent refusal (the delivery goes to the dead letters with the status).
"""

from __future__ import annotations

import os

import httpx

from tracer_agent.routing import Destination
from tracer_ai.destinations.webhook import EVENT_ID_HEADER, SIGNATURE_HEADER, body_bytes, signature
from tracer_ai.mcp_toolbox import ToolResult
from tracer_ai.tool_call import ToolCall


class WebhookSecretError(ValueError):
    """The destination names a secret that is not available."""


def webhook_secret(destination: Destination) -> str | None:
    if destination.secret_env:
        value = os.environ.get(destination.secret_env)
        if not value:
            raise WebhookSecretError(
                f"webhook {destination.name}: environment variable {destination.secret_env} "
                "(its signing secret) is not set"
            )
        return value
    return destination.secret.get_secret_value() if destination.secret is not None else None


class WebhookCaller:
    """Sends webhook steps; `call_app_tool` mirrors the MCP toolbox's for the executor."""

    def __init__(self, client: httpx.AsyncClient, secret: str | None) -> None:
        self._client = client
        self._secret = secret

    async def call_app_tool(
        self,
        call: ToolCall,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-call deadline, as the toolbox's
    ) -> ToolResult:
        url = str(call.arguments["url"])
        event_id = str(call.arguments["event_id"])
        body = body_bytes(call.arguments["body"])
        headers = {
            "content-type": "application/json",
            "user-agent": "Tracer",
            EVENT_ID_HEADER: event_id,
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(self._secret, body)
        try:
            answer = await self._client.post(url, content=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            return ToolResult.failure("timeout", f"webhook {url}: no answer ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return ToolResult.failure("transport", f"webhook {url}: {type(exc).__name__}: {exc}")
        status = answer.status_code
        if 200 <= status < 300:
            return ToolResult(True, answer.text[:2000], {"status": status, "event_id": event_id})
        error = f"webhook {url} answered HTTP {status}"
        if status == 429 or status >= 500:
            return ToolResult.failure("tool_error", error)
        return ToolResult.failure("rejected", error)
