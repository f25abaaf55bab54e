"""Readiness waits for Composio's live tool schemas to accept the arguments Tracer builds.

With Composio configured, the agent lists the routing user's tool-router session once at
start and checks every call the routed destinations can make (`tracer_ai.schema_check`).
Until that check has passed, `/readyz` answers 503 with the reason: the tool and the argument
that would be refused, or why the schemas could not be read (then it tries again). A schema
change is caught when the agent starts, not when an alert is lost at night.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tracer_agent.routing import RoutingRules
from tracer_agent.toolboxes import Toolboxes
from tracer_ai.errors import TracerAiError
from tracer_ai.schema_check import ToolCheck, check_destinations

log = logging.getLogger(__name__)

CHECKING = "checking the destination tools' input schemas"


async def live_schema_checks(
    toolboxes: Toolboxes, rules: RoutingRules, user_id: str
) -> list[ToolCheck]:
    """The routed destinations' tools checked against the schemas `user_id`'s session lists."""
    box = await toolboxes.for_user(user_id)
    live = {spec.name: spec.input_schema for spec in await box.list_tools(refresh=True)}
    return check_destinations([(d.toolkit.value, d) for d in rules.destinations], live)


def refusal_reason(checks: list[ToolCheck]) -> str | None:
    bad = [check.message() for check in checks if not check.ok]
    if not bad:
        return None
    return "Tracer's arguments would not validate: " + " | ".join(bad)


async def hold_readiness_until_schemas_fit(
    state: Any, toolboxes: Toolboxes, rules: RoutingRules, user_id: str, *, retry_s: float = 30.0
) -> None:
    """Set `state.not_ready` while the check has not passed; retry when Composio is down."""
    state.not_ready = CHECKING
    while True:
        try:
            checks = await live_schema_checks(toolboxes, rules, user_id)
        except (TracerAiError, OSError) as exc:
            state.not_ready = f"could not read the tool schemas from Composio: {exc}"
            log.warning("%s; trying again in %.0f s", state.not_ready, retry_s)
            await asyncio.sleep(retry_s)
            continue
        state.not_ready = refusal_reason(checks)
        if state.not_ready:
            log.error("%s", state.not_ready)
        else:
            log.info("the live schemas of %d destination tools accept Tracer's calls", len(checks))
        return
