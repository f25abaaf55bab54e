"""The processor's HTTP API (docs/architecture.md).

Ingest: `POST /api/logs` (JSON array, `{"logs": [...]}`, NDJSON) answers
`202 {"accepted", "rejected", "late", "errors": [{"index", "error"}]}`; `POST /v1/logs` is
OTLP/HTTP (protobuf or JSON) and answers as OTLP does, with `partial_success` for rejected
records. Reads: `GET /api/alerts` from the alert store, `GET /api/services` from the
detector's live state (on a clustered receiver, from the services' checkpoints). The
detection work runs inline (it takes about a millisecond per thousand records); nothing
here waits on the database except reads and key checks.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import asyncpg
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracer_core.auth_limit import FailedAuthLimiter
from tracer_core.models import AlertStatus
from tracer_processor.checkpoints.view import CheckpointView
from tracer_processor.cluster.publisher import (
    RETRY_AFTER_SECONDS as PUBLISH_RETRY_AFTER_SECONDS,
)
from tracer_processor.cluster.publisher import (
    Publisher,
    PublishUnavailableError,
)
from tracer_processor.ingest.auth import Access, AuthError, KeyVerifier
from tracer_processor.ingest.batch import BatchRejectedError, LogBatch
from tracer_processor.ingest.bodies import BodyError, read_body
from tracer_processor.ingest.decode_pool import DecodePool, DecoderUnavailableError
from tracer_processor.ingest.otlp import decode_export, encode_response, encode_status
from tracer_processor.ingest.paging import cursor_key, cursor_of, services_page
from tracer_processor.ingest.records import parse_logs
from tracer_processor.ingest.request_id import IDEMPOTENCY_HEADER, request_id
from tracer_processor.pipeline import IngestOutcome, Pipeline

log = logging.getLogger(__name__)

_NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl",
                 "application/x-jsonlines", "application/json-seq")  # fmt: skip
_PROTOBUF_TYPES = ("application/x-protobuf", "application/protobuf")
JSON_TYPES = ("application/json", *_NDJSON_TYPES)
MAX_SERVICES_LISTED = 1000  # per page; `cursor` pages on
RETRY_AFTER_SECONDS = "5"


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    response = json_response({"error": message}, status)
    if status == 503:
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


async def _authorize(request: Request, access: Access) -> str | None:
    """The sender's key identity (None when keys are off); raises `AuthError`."""
    keys: KeyVerifier | None = request.app.state.keys
    if keys is None:
        return None
    limiter: FailedAuthLimiter = request.app.state.auth_limiter
    address = request.client.host if request.client else ""
    wait = limiter.retry_after(address)
    if wait is not None:
        raise AuthError(429, "too many failed authentications; try again later", wait)
    try:
        return await keys.check(request.headers.get("authorization"), access)
    except AuthError as exc:
        if exc.status == 401:
            limiter.failed(address)
        raise


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _ingest(
    request: Request, batch: LogBatch, source: str, body: bytes, endpoint: str
) -> IngestOutcome:
    """Fold the batch in here, or (clustered) publish it for the partitions' owners."""
    publisher: Publisher | None = request.app.state.publisher
    if publisher is not None:
        identity = request_id(
            body,
            sender=batch.sender,
            endpoint=endpoint,
            media_type=_media_type(request),
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
            event_times=batch.timestamps.tobytes(),
        )
        await publisher.publish(batch, identity)  # PublishUnavailableError: answered 503
        request.app.state.metrics.accepted.labels(source).inc(batch.size)
        return IngestOutcome(batch.size, batch.rejected, 0, batch.errors)
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline.ingest(batch, source=source)


def _unavailable(request: Request, endpoint: str, exc: PublishUnavailableError) -> Response:
    message = f"the log stream is unavailable, retry later: {exc}"
    if endpoint == "/v1/logs":
        response = _otlp_error(503, message, _media_type(request) == "application/json")
    else:
        response = _error(503, message)
    response.headers["Retry-After"] = str(PUBLISH_RETRY_AFTER_SECONDS)
    return _counted(request, endpoint, response)


async def post_logs(request: Request) -> Response:
    state = request.app.state
    started = time.perf_counter()
    media_type = _media_type(request)
    # No Content-Type is refused too: every log shipper names its type, and a body without one
    # is more likely a form or a browser's than a log batch.
    if media_type not in JSON_TYPES:
        return _counted(
            request,
            "/api/logs",
            _error(415, "send logs as application/json or application/x-ndjson"),
        )
    try:
        # The size limit comes first: an unauthenticated client cannot make us hold more.
        body = await read_body(request, limit=state.settings.max_body_bytes)
        sender = await _authorize(request, Access.INGEST)
        decoders: DecodePool = state.decoders
        batch = await decoders.decode(
            parse_logs,
            body,
            ndjson=media_type in _NDJSON_TYPES,
            now=state.clock.now().timestamp(),
            limits=state.limits,
        )
        batch.sender = sender
    except AuthError as exc:
        return _counted(request, "/api/logs", _auth_error(exc))
    except BodyError as exc:
        return _counted(request, "/api/logs", _error(exc.status, str(exc)))
    except BatchRejectedError as exc:
        return _counted(request, "/api/logs", _error(413 if exc.too_large else 400, str(exc)))
    except DecoderUnavailableError as exc:
        return _counted(request, "/api/logs", _error(503, str(exc)))
    try:
        outcome = await _ingest(request, batch, "json", body, "/api/logs")
    except PublishUnavailableError as exc:
        return _unavailable(request, "/api/logs", exc)
    state.metrics.request_seconds.observe(time.perf_counter() - started)
    payload = {
        "accepted": outcome.accepted,
        "rejected": outcome.rejected,
        "late": outcome.late,
        "errors": [{"index": e.index, "error": e.error} for e in outcome.errors],
    }
    return _counted(request, "/api/logs", json_response(payload, 202))


async def post_otlp_logs(request: Request) -> Response:
    state = request.app.state
    media_type = _media_type(request)
    as_json = media_type == "application/json"
    if not as_json and media_type not in _PROTOBUF_TYPES:
        return _counted(
            request,
            "/v1/logs",
            _error(415, "send OTLP logs as application/x-protobuf or application/json"),
        )
    started = time.perf_counter()
    try:
        body = await read_body(request, limit=state.settings.max_body_bytes)
        sender = await _authorize(request, Access.INGEST)
        decoders = state.decoders
        batch = await decoders.decode(
            decode_export,
            body,
            json=as_json,
            now=state.clock.now().timestamp(),
            limits=state.limits,
        )
        batch.sender = sender
    except (AuthError, BodyError) as exc:
        response = _otlp_error(exc.status, str(exc), as_json)
        if isinstance(exc, AuthError) and exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return _counted(request, "/v1/logs", response)
    except BatchRejectedError as exc:
        status = 413 if exc.too_large else 400
        return _counted(request, "/v1/logs", _otlp_error(status, str(exc), as_json))
    except DecoderUnavailableError as exc:
        return _counted(request, "/v1/logs", _otlp_error(503, str(exc), as_json))
    try:
        outcome = await _ingest(request, batch, "otlp", body, "/v1/logs")
    except PublishUnavailableError as exc:
        return _unavailable(request, "/v1/logs", exc)
    state.metrics.request_seconds.observe(time.perf_counter() - started)
    summary = "; ".join(f"record {e.index}: {e.error}" for e in outcome.errors[:10])
    body = encode_response(outcome.rejected, summary, json=as_json)
    media = "application/json" if as_json else "application/x-protobuf"
    return _counted(request, "/v1/logs", Response(body, 200, media_type=media))


def _otlp_error(status: int, message: str, as_json: bool) -> Response:
    code = {400: 3, 401: 16, 403: 7, 413: 8, 415: 3, 429: 8, 503: 14}.get(status, 2)  # gRPC codes
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if status == 503 else None
    if as_json:
        response = json_response({"code": code, "message": message}, status)
        response.headers.update(headers or {})
        return response
    body = encode_status(code, message)
    return Response(body, status, headers=headers, media_type="application/x-protobuf")


def _counted(request: Request, endpoint: str, response: Response) -> Response:
    request.app.state.metrics.requests.labels(endpoint, str(response.status_code)).inc()
    return response


async def _refused_read(request: Request) -> Response | None:
    try:
        await _authorize(request, Access.READ)
    except AuthError as exc:
        return _auth_error(exc)
    return None


def _auth_error(exc: AuthError) -> Response:
    response = _error(exc.status, str(exc))
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def get_alerts(request: Request) -> Response:
    if refused := await _refused_read(request):
        return refused
    params = request.query_params
    status_text = params.get("status", "all")
    if status_text not in ("open", "resolved", "all"):
        return _error(400, "status must be open, resolved or all")
    limit = _int_param(params.get("limit"), default=100, upper=1000)
    if limit is None:
        return _error(400, "limit must be an integer between 1 and 1000")
    status = None if status_text == "all" else AlertStatus(status_text)
    try:
        alerts = await request.app.state.store.list_alerts(
            status=status, service=params.get("service") or None, limit=limit
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        log.warning("listing alerts failed: %s", exc)
        return _error(503, "the database is unavailable")
    return json_response([alert.model_dump(mode="json") for alert in alerts])


async def get_services(request: Request) -> Response:
    if refused := await _refused_read(request):
        return refused
    params = request.query_params
    limit = _int_param(params.get("limit"), default=100, upper=MAX_SERVICES_LISTED)
    if limit is None:
        return _error(400, f"limit must be an integer between 1 and {MAX_SERVICES_LISTED}")
    try:
        after = cursor_key(params.get("cursor"))
    except ValueError:
        return _error(400, "cursor is not one this API handed out")
    project, service = params.get("project") or None, params.get("service") or None
    view: CheckpointView | None = request.app.state.checkpoint_view
    if view is not None:  # a clustered receiver: the services as of their checkpoints
        try:
            rows, following = await view.page(
                project=project, service=service, limit=limit, after=after
            )
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            log.warning("reading service checkpoints failed: %s", exc)
            return _error(503, "the database is unavailable")
    else:
        rows = await services_page(
            request.app.state.pipeline, project=project, service=service, limit=limit, after=after
        )
        following = (rows[-1]["project"], rows[-1]["service"]) if len(rows) == limit else None
    response = json_response(rows)
    if following is not None:
        response.headers["X-Next-Cursor"] = cursor_of(*following)
    return response


def _int_param(raw: str | None, *, default: int, upper: int) -> int | None:
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        return None
    value = int(raw)
    return value if 1 <= value <= upper else None


def api_routes() -> list[Route]:
    return [
        Route("/api/logs", post_logs, methods=["POST"]),
        Route("/v1/logs", post_otlp_logs, methods=["POST"]),
        Route("/api/alerts", get_alerts, methods=["GET"]),
        Route("/api/services", get_services, methods=["GET"]),
    ]
