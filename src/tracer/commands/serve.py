"""`tracer processor` and `tracer agent`: run one replica of either app."""

from __future__ import annotations

from tracer.commands.errors import user_errors
from tracer.commands.options import DatabaseUrlOption, HostOption, PortOption


def processor(
    host: HostOption = None, port: PortOption = None, database_url: DatabaseUrlOption = None
) -> None:
    """Run a processor: log ingest and anomaly detection (default 127.0.0.1:4318)."""
    from tracer_processor.main import main

    with user_errors():
        main(host=host, port=port, database_url=database_url)


def agent(
    host: HostOption = None, port: PortOption = None, database_url: DatabaseUrlOption = None
) -> None:
    """Run the agent: alert delivery, chat and connections (default 127.0.0.1:8000)."""
    from tracer_agent.main import main

    with user_errors():
        main(host=host, port=port, database_url=database_url)
