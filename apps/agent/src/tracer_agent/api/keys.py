"""API keys for admins: list (never the secret), create (the secret is shown once), revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from pydantic import BaseModel, Field

from tracer_agent.auth.deps import AdminUser
from tracer_agent.auth.keys import create_key, revoke_key
from tracer_agent.stores.api_keys import ApiKeyListing, ApiKeyStore
from tracer_core.models import Role

router = APIRouter(prefix="/api", tags=["keys"])


class KeyRequest(BaseModel):
    role: Role
    name: str | None = Field(default=None, min_length=1, max_length=200)


class CreatedKey(BaseModel):
    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    key: str


@router.get("/keys")
async def list_keys(request: Request, user: AdminUser) -> list[ApiKeyListing]:
    return await ApiKeyStore(request.app.state.pool).list_keys()


@router.post("/keys", status_code=status.HTTP_201_CREATED)
async def new_key(body: KeyRequest, request: Request, user: AdminUser) -> CreatedKey:
    created = await create_key(request.app.state.pool, role=body.role, name=body.name)
    p = created.principal
    return CreatedKey(
        id=p.key_id,
        name=p.name,
        role=p.role,
        prefix=p.prefix,
        created_at=created.created_at,
        key=created.secret,
    )


@router.delete("/keys/{prefix}")
async def delete_key(
    prefix: Annotated[str, Path(min_length=1, max_length=64)], request: Request, user: AdminUser
) -> dict[str, str]:
    if not await revoke_key(request.app.state.pool, prefix=prefix):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no active key with prefix {prefix}")
    return {"revoked": prefix}
