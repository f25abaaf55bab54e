"""`tracer agent`: run one agent replica."""

from __future__ import annotations

from tracer_agent.app import create_app
from tracer_agent.settings import AgentSettings
from tracer_core.runtime import configure_logging, prepared_database, serve
from tracer_core.settings import load_settings
from tracer_core.startup_errors import bind_listener


def main(
    *, host: str | None = None, port: int | None = None, database_url: str | None = None
) -> None:
    settings = load_settings(AgentSettings, host=host, port=port, database_url=database_url)
    configure_logging(settings.log_level)
    # The port first: a busy one must stop the process before it does any work.
    sock = bind_listener(settings.host, settings.port, variable="TRACER_AGENT_PORT")
    with prepared_database(settings.database_url, settings.home) as url:
        settings = settings.model_copy(update={"database_url": url})
        serve(create_app(settings), host=settings.host, port=settings.port, sock=sock)
