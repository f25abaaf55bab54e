"""What every message links to: the incident in Tracer (TRACER_PUBLIC_URL + /incidents/{id})
and, from the routing file's runbooks, the runbook and the owning team of the alert."""

from __future__ import annotations

from dataclasses import dataclass

from tracer_agent.routing import RoutingRules
from tracer_ai.summary import AlertContext


@dataclass(frozen=True, slots=True)
class MessageLinks:
    rules: RoutingRules
    public_url: str

    def incident_url(self, incident_id: int) -> str:
        return f"{self.public_url.rstrip('/')}/incidents/{incident_id}"

    def annotate(self, ctx: AlertContext) -> AlertContext:
        """`ctx` with its incident link, runbook and owner filled in."""
        update: dict[str, object] = {}
        if ctx.incident_id is not None:
            update["alert_url"] = self.incident_url(ctx.incident_id)
        runbook = self.rules.runbook_for(
            severity=ctx.severity,
            service=ctx.service,
            alert_type=ctx.alert_type.value,
            project=ctx.project,
        )
        if runbook is not None:
            update["runbook_url"] = runbook.url
            update["owner"] = runbook.owner
        return ctx.model_copy(update=update) if update else ctx
