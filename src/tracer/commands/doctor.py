"""`tracer doctor`: do the destination tools still accept what Tracer sends?

For every tool the routing rules' destinations call, it shows where the schema came from
(the Composio session's live list, or the recorded copy shipped with Tracer), the recorded
copy's version and date, and whether Tracer's arguments validate. Without COMPOSIO_API_KEY
it checks against the recorded copies only (what the local sink enforces). Exit code 1 when
any tool would refuse Tracer's arguments.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from tracer.commands.errors import user_errors

if TYPE_CHECKING:  # the agent's modules load only when the command runs (`tracer` starts fast)
    from tracer_agent.routing import RoutingRules
    from tracer_agent.settings import AgentSettings
    from tracer_ai.schema_check import ToolCheck

console = Console()


async def doctor_checks(settings: AgentSettings, rules: RoutingRules) -> list[ToolCheck]:
    """The checks `tracer doctor` prints: live with Composio, recorded copies otherwise."""
    from tracer_agent.schema_readiness import live_schema_checks
    from tracer_agent.toolboxes import Toolboxes
    from tracer_ai.schema_check import check_destinations
    from tracer_ai.tool_router import ComposioToolRouter

    if settings.composio_api_key is None:
        return check_destinations([(d.toolkit.value, d) for d in rules.destinations], {})
    router = ComposioToolRouter(settings.composio_api_key, base_url=settings.composio_base_url)
    toolboxes = Toolboxes(router, call_timeout_s=settings.tool_call_timeout_seconds)
    try:
        return await live_schema_checks(toolboxes, rules, settings.routing_user_id)
    finally:
        await toolboxes.aclose()


def render_checks(checks: list[ToolCheck], *, live: bool) -> Table:
    table = Table(title="Destination tools" + ("" if live else " (recorded schemas only)"))
    for column in ("tool", "destination", "schema", "recorded version, date", "validates"):
        table.add_column(column)
    for check in checks:
        recorded = check.recorded.label if check.recorded is not None else "not recorded"
        verdict = "yes" if check.ok else "NO: " + "; ".join(check.problems)
        table.add_row(check.tool, check.destination, check.schema_source, recorded, verdict)
    return table


def doctor() -> None:
    """Check that each destination tool's input schema accepts Tracer's arguments."""
    from tracer_agent.routing import load_rules
    from tracer_agent.settings import AgentSettings
    from tracer_ai.errors import TracerAiError
    from tracer_core.settings import load_settings

    with user_errors():
        settings = load_settings(AgentSettings)
        rules = load_rules(settings.routing_file)
    live = settings.composio_api_key is not None
    if not live:
        console.print("COMPOSIO_API_KEY is not set: checking against the recorded schemas.")
    try:
        checks = asyncio.run(doctor_checks(settings, rules))
    except TracerAiError as exc:
        console.print(f"[bold red]could not read the tool schemas from Composio:[/] {exc}")
        raise typer.Exit(2) from None
    console.print(render_checks(checks, live=live))
    if not all(check.ok for check in checks):
        raise typer.Exit(1)
