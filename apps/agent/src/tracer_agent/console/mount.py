"""Mounts the console on the agent's app: its routes, static files and error pages."""

from __future__ import annotations

from fastapi import FastAPI

from tracer_agent.console import (
    routes_admin,
    routes_auth,
    routes_chat,
    routes_incidents,
    routes_services,
    routes_silences,
)
from tracer_agent.console.rendering import EXCEPTION_HANDLERS, static_files


def mount_console(app: FastAPI) -> None:
    for module in (
        routes_auth,
        routes_incidents,
        routes_services,
        routes_silences,
        routes_chat,
        routes_admin,
    ):
        app.include_router(module.router)
    app.mount("/static", static_files, name="static")
    for exc_class, handler in EXCEPTION_HANDLERS.items():
        app.add_exception_handler(exc_class, handler)
