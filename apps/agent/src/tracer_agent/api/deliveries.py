"""Deliveries: what was sent where for an alert, the dead letters, and retrying them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status

from tracer_agent.auth.deps import AdminUser, StaffUser
from tracer_agent.stores.alerts import AlertStore
from tracer_agent.stores.deliveries import DeliveryRecord, DeliveryRecords
from tracer_core.models import DeliveryStatus
from tracer_core.params import RowId

router = APIRouter(prefix="/api", tags=["deliveries"])


def _store(request: Request) -> DeliveryRecords:
    return DeliveryRecords(request.app.state.pool)


@router.get("/alerts/{alert_id}/deliveries")
async def alert_deliveries(
    alert_id: RowId, request: Request, user: StaffUser
) -> list[DeliveryRecord]:
    """Every delivery of the alert's events, oldest first, with results and last errors."""
    if not await AlertStore(request.app.state.pool).exists(alert_id=alert_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id} does not exist")
    return await _store(request).for_alert(alert_id=alert_id)


@router.get("/deliveries")
async def list_deliveries(
    request: Request,
    user: StaffUser,
    status_filter: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryRecord]:
    """Recent deliveries, newest first; `?status=dead` lists the dead letters."""
    return await _store(request).list_deliveries(status=status_filter, limit=limit)


@router.post("/deliveries/{delivery_id}/retry")
async def retry_delivery(delivery_id: RowId, request: Request, user: AdminUser) -> DeliveryRecord:
    """Send a dead or failed delivery again now, with a fresh attempt budget."""
    store = _store(request)
    record = await store.retry(delivery_id=delivery_id)
    if record is None:
        existing = await store.get(delivery_id=delivery_id)
        if existing is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"delivery {delivery_id} does not exist")
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"delivery {delivery_id} is {existing.status.value}; only dead or failed "
            "deliveries can be retried",
        )
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        worker.wake()
    return record
