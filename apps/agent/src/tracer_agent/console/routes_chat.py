"""The chat panel: the page, and a stream of the chat engine's events for it (the same
engine and events as `POST /api/chat`), sent as server-sent events to the page's script."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sse_starlette import EventSourceResponse

from tracer_agent.api.chat import NO_LLM, sse_events
from tracer_agent.console.rendering import render
from tracer_agent.console.session import ConsoleUser, current_user, form_user
from tracer_agent.services import AgentServices

router = APIRouter(include_in_schema=False)


@router.get("/chat", response_class=HTMLResponse)
async def chat_page(
    request: Request, user: Annotated[ConsoleUser, Depends(current_user)]
) -> Response:
    services: AgentServices = request.app.state.services
    return render(request, "chat.html", user, no_llm=NO_LLM if services.chat is None else None)


@router.post("/chat/stream")
async def chat_stream(
    request: Request,
    user: Annotated[ConsoleUser, Depends(form_user)],
    message: Annotated[str, Form(min_length=1, max_length=8000)],
    conversation_id: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    services: AgentServices = request.app.state.services
    engine = services.chat

    if engine is None:
        services.metrics.chat_requests.labels("no_llm").inc()
        return render(request, "_chat_unavailable.html", user, status_code=503, no_llm=NO_LLM)
    turn = engine.ask(
        user_id=user.principal.user_id, message=message, conversation_id=conversation_id or None
    )
    return EventSourceResponse(sse_events(turn, services))
