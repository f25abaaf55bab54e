"""`GET /openapi.json`: the processor's HTTP API as OpenAPI 3.1, with its bearer scheme.

Written out rather than generated: the routes are plain Starlette handlers reading raw bodies
(msgspec, OTLP protobuf), so the shapes are stated here once, next to the routes they
describe (`ingest/routes.py`).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracer_processor.ingest.routes import JSON_TYPES, MAX_SERVICES_LISTED, json_response

_ERROR = {"$ref": "#/components/schemas/Error"}
_RECORD: dict[str, Any] = {
    "type": "object",
    "required": ["timestamp", "service", "level", "message"],
    "properties": {
        "timestamp": {
            "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
            "description": "RFC 3339 with an offset, or epoch milliseconds",
        },
        "service": {"type": "string", "minLength": 1, "maxLength": 200},
        "project": {"type": "string", "minLength": 1, "maxLength": 200},
        "level": {"enum": ["trace", "debug", "info", "warn", "error", "fatal"]},
        "message": {"type": "string", "maxLength": 65536},
        "status_code": {"type": "integer", "minimum": 0, "maximum": 999},
        "duration_ms": {"type": "number", "minimum": 0},
        "trace_id": {"type": "string"},
        "span_id": {"type": "string"},
        "attributes": {"type": "object"},
    },
}


def _answers(ok: str, ok_schema: dict[str, Any], *codes: int) -> dict[str, Any]:
    answers: dict[str, Any] = {
        ok: {"description": "success", "content": {"application/json": {"schema": ok_schema}}}
    }
    for code in codes:
        answers[str(code)] = {
            "description": "refused",
            "content": {"application/json": {"schema": _ERROR}},
        }
    return answers


def _int_query(name: str, upper: int) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": 1, "maximum": upper}
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _text_query(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}


def spec() -> dict[str, Any]:
    secured: list[dict[str, list[str]]] = [{"bearer": []}]
    batch = {"oneOf": [{"type": "array", "items": _RECORD}, {"type": "object"}]}
    accepted = {
        "type": "object",
        "properties": {
            "accepted": {"type": "integer"},
            "rejected": {"type": "integer"},
            "late": {"type": "integer"},
            "errors": {"type": "array", "items": {"type": "object"}},
        },
    }
    listing = {"type": "array", "items": {"type": "object"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tracer processor", "version": "1"},
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from `tracer keys create` (ingest or admin "
                    "to send logs; any role to read). Required when keys are on.",
                }
            },
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
                "LogRecord": _RECORD,
            },
        },
        "paths": {
            "/api/logs": {
                "post": {
                    "summary": "Send log records (JSON array, {logs: [...]}, or NDJSON)",
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {media: {"schema": batch} for media in JSON_TYPES},
                    },
                    "responses": _answers("202", accepted, 400, 401, 403, 413, 415, 429, 503),
                }
            },
            "/v1/logs": {
                "post": {
                    "summary": "OTLP/HTTP logs export (protobuf or JSON)",
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-protobuf": {"schema": {}},
                            "application/json": {"schema": {"type": "object"}},
                        },
                    },
                    "responses": _answers("200", {}, 400, 401, 403, 413, 415, 429, 503),
                }
            },
            "/api/alerts": {
                "get": {
                    "summary": "Alerts, newest first",
                    "security": secured,
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "required": False,
                            "schema": {"enum": ["open", "resolved", "all"]},
                        },
                        _text_query("service"),
                        _int_query("limit", 1000),
                    ],
                    "responses": _answers("200", listing, 400, 401, 403, 429, 503),
                }
            },
            "/api/services": {
                "get": {
                    "summary": "Per-service stats and baselines; the next page's cursor is "
                    "in the X-Next-Cursor header",
                    "security": secured,
                    "parameters": [
                        _text_query("project"),
                        _text_query("service"),
                        _text_query("cursor"),
                        _int_query("limit", MAX_SERVICES_LISTED),
                    ],
                    "responses": _answers("200", listing, 400, 401, 403, 429, 503),
                }
            },
            "/healthz": {
                "get": {"summary": "Liveness", "responses": {"200": {"description": "up"}}}
            },
            "/readyz": {
                "get": {"summary": "Readiness", "responses": {"200": {"description": "ready"}}}
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "text"}},
                }
            },
        },
    }


async def get_openapi(request: Request) -> Response:
    return json_response(spec())


def openapi_routes() -> list[Route]:
    return [Route("/openapi.json", get_openapi, methods=["GET"])]
