"""Who may call the local MCP sink: the agent itself (its sink token) and people with an
admin or engineer API key.

Without this anything that reaches the agent's port could write fake messages into the sink
(and read the stored ones back through its fetch tools). The sink is mounted as a plain ASGI
route, so the API's FastAPI dependencies are called here directly: a key is verified exactly
as on /api (401 when missing, unknown or revoked; 403 for a role other than admin or
engineer), and neither answer repeats what was sent.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from tracer_agent.auth.deps import current_principal, require_role
from tracer_agent.sink.token import SinkToken
from tracer_core.api_keys import parse_bearer
from tracer_core.models import Role

_STAFF = require_role(Role.ADMIN, Role.ENGINEER)


async def refuse_sink_caller(request: Request, token: SinkToken) -> JSONResponse | None:
    """None when the caller may use the sink; otherwise the 401/403 answer to send."""
    credential = parse_bearer(request.headers.get("authorization"))
    if credential and token.matches(credential):
        return None
    try:
        await _STAFF(await current_principal(request))
    except HTTPException as refusal:
        return JSONResponse(
            {"detail": refusal.detail}, status_code=refusal.status_code, headers=refusal.headers
        )
    return None
