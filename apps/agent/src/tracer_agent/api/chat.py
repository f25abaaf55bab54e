"""`POST /api/chat`: ask about incidents. Server-sent events by default (`conversation`, one
`tool` per tool call, then `answer`), or one JSON answer with `Accept: application/json`."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from tracer_agent.auth.deps import StaffUser
from tracer_agent.chat.engine import ChatEngine, ChatEvent, ConversationNotFoundError
from tracer_agent.services import AgentServices
from tracer_ai.errors import LlmError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["chat"])

NO_LLM = (
    "chat needs an LLM and none is configured: set OPENAI_API_KEY (OpenAI), or OPENAI_BASE_URL "
    "for any OpenAI-compatible server such as Ollama, vLLM or LM Studio (for example "
    "OPENAI_BASE_URL=http://127.0.0.1:11434/v1 TRACER_LLM_MODEL=llama3.1), then restart the agent"
)


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=8000)
    conversation_id: str | None = Field(default=None, max_length=100)
    # The id of a pending write the answer listed: the engineer's confirmation runs it.
    confirm_action: str | None = Field(default=None, min_length=1, max_length=100)


class ChatOut(BaseModel):
    conversation_id: str
    answer: str
    alert_ids: list[int]
    pending_actions: list[dict[str, Any]] = Field(default_factory=list)


def _engine(request: Request) -> ChatEngine:
    services: AgentServices = request.app.state.services
    if services.chat is None:
        services.metrics.chat_requests.labels("no_llm").inc()
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, NO_LLM)
    return services.chat


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/event-stream" not in accept


@router.post("/chat", response_model=ChatOut)
async def chat(body: ChatIn, request: Request, user: StaffUser) -> Response:
    engine = _engine(request)
    services: AgentServices = request.app.state.services
    if body.confirm_action is not None and body.conversation_id is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY, "confirm_action needs its conversation_id"
        )
    turn = engine.ask(
        user_id=user.user_id,
        message=body.message,
        conversation_id=body.conversation_id,
        confirm_action=body.confirm_action,
    )
    if _wants_json(request):
        try:
            async for event in turn:
                if event.kind == "answer":
                    services.metrics.chat_requests.labels("ok").inc()
                    return JSONResponse(ChatOut(**event.data).model_dump())
        except ConversationNotFoundError:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such conversation") from None
        except LlmError as exc:
            services.metrics.chat_requests.labels("llm_error").inc()
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, f"the LLM did not answer: {exc}"
            ) from None
        raise HTTPException(
            status.HTTP_500_INTERNAL_SERVER_ERROR, "the chat ended without an answer"
        )

    return EventSourceResponse(sse_events(turn, services))


async def sse_events(
    turn: AsyncIterator[ChatEvent], services: AgentServices
) -> AsyncIterator[dict[str, Any]]:
    """A chat turn as server-sent events (also what the console's chat panel reads)."""
    try:
        async for event in turn:
            yield {"event": event.kind, "data": json.dumps(event.data)}
        services.metrics.chat_requests.labels("ok").inc()
    except ConversationNotFoundError:
        yield {"event": "error", "data": json.dumps({"detail": "no such conversation"})}
    except LlmError as exc:
        services.metrics.chat_requests.labels("llm_error").inc()
        yield {
            "event": "error",
            "data": json.dumps({"detail": f"the LLM did not answer: {exc}"}),
        }
