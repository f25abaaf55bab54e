"""The local sink's stored calls, newest first: what Tracer would have posted."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from tracer_agent.auth.deps import StaffUser
from tracer_agent.sink.store import SinkMessage, SinkStore
from tracer_core.models import Toolkit
from tracer_core.params import RowId

router = APIRouter(prefix="/api/sink", tags=["sink"])


@router.get("/messages")
async def sink_messages(
    request: Request,
    user: StaffUser,
    toolkit: Toolkit | None = None,
    before_id: Annotated[RowId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[SinkMessage]:
    return await SinkStore(request.app.state.pool).messages(
        limit=limit, toolkit=toolkit, before_id=before_id
    )
