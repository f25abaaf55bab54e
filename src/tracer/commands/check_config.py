"""`tracer check-config`: validate the settings of both apps and the routing file without
starting anything or connecting anywhere, so a bad value is found before a deploy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from tracer.commands.errors import print_error
from tracer_agent.routing import load_rules
from tracer_agent.settings import AgentSettings
from tracer_agent.sink.token import configured_sink_token
from tracer_core.settings import SettingsError, load_settings
from tracer_processor.settings import ProcessorSettings

console = Console()


def _attempt(problems: list[str], step: Callable[[], Any]) -> Any:
    try:
        return step()
    except SettingsError as exc:
        problems.append(str(exc))
        return None


def check_config() -> None:
    """Check TRACER_* settings, DATABASE_URL's presence and TRACER_ROUTING_FILE; exit 2 if bad."""
    problems: list[str] = []
    processor = _attempt(problems, lambda: load_settings(ProcessorSettings))
    agent: AgentSettings | None = _attempt(problems, lambda: load_settings(AgentSettings))
    rules = None
    if agent is not None:
        _attempt(problems, lambda: configured_sink_token(agent.sink_token))
        rules = _attempt(problems, lambda: load_rules(agent.routing_file))
    if problems or processor is None or agent is None or rules is None:
        for problem in problems:
            print_error(problem)
        raise typer.Exit(2)
    database = "DATABASE_URL" if agent.database_url else f"embedded PostgreSQL in {agent.home}"
    routing = (
        f"{agent.routing_file}: {len(rules.rules)} rule(s), "
        f"{len(rules.destinations)} destination(s)"
        if agent.routing_file
        else "built-in rules (TRACER_ROUTING_FILE unset)"
    )
    console.print(f"processor: {processor.host}:{processor.port}", soft_wrap=True)
    console.print(f"agent: {agent.host}:{agent.port}", soft_wrap=True)
    console.print(f"database: {database}", soft_wrap=True)
    console.print(f"routing: {routing}", soft_wrap=True)
    console.print(f"LLM: {'configured' if agent.llm_configured else 'not configured'}")
    console.print("configuration OK")
