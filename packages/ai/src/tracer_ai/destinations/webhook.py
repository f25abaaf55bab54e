"""Plain webhooks: one signed JSON POST per alert event to a URL of the team's own system.

The body carries the incident (the alert's fingerprint, id and link), the alert event and
the summary. Every POST of one delivery carries the same event id in `X-Tracer-Event-Id`,
so a receiver that keeps the ids it has seen can drop a retry: a duplicate is harmless here,
which is why a webhook needs no crash probe and an uncertain POST is simply sent again.
With a secret, `X-Tracer-Signature: sha256=<hex>` is the HMAC-SHA256 of the exact body
bytes. This destination is plain HTTP (the agent's webhook caller), not a Composio tool.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from tracer_ai.destinations.base import Plan, PlanRequest, Step, Target, ThreadOpened
from tracer_ai.summary import AlertContext
from tracer_ai.tool_call import ToolCall

POST = "WEBHOOK_POST"  # the executor's name for the HTTP call; no MCP tool has it
EVENT_ID_HEADER = "X-Tracer-Event-Id"
SIGNATURE_HEADER = "X-Tracer-Signature"


def body_bytes(body: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON with sorted keys."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def render(request: PlanRequest, event_id: str) -> ToolCall:
    url = request.target.url
    if not url:
        raise ValueError("webhook URL is empty")
    ctx = request.ctx
    body = {
        "event_id": event_id,
        "event": ctx.event.value,
        "incident": {"key": ctx.fingerprint, "alert_id": ctx.alert_id, "url": ctx.alert_url},
        "alert": ctx.model_dump(mode="json"),
        "summary": request.summary.model_dump(mode="json"),
    }
    return ToolCall(POST, {"url": url, "event_id": event_id, "body": body})


def read_answer(payload: Any) -> dict[str, Any]:
    fields = payload if isinstance(payload, Mapping) else {}
    return {"http_status": fields.get("status"), "event_id": fields.get("event_id")}


class WebhookDestination:
    name = "webhook"
    routing_tools: tuple[str, ...] = ()  # not a tool-router toolkit

    def plan(self, request: PlanRequest) -> Plan:
        marker = request.marker("post")
        call = render(request, marker)
        return [Step("post", call, read_answer, marker, duplicate_harmless=True)]

    def opened_thread(
        self, target: Target, ctx: AlertContext, result: Mapping[str, Any]
    ) -> ThreadOpened | None:
        return None


WEBHOOK = WebhookDestination()
