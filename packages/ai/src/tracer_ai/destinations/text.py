"""Text helpers shared by the destination renderers: truncation, the alert's facts and top
samples, and the words that name an event. Escaping stays with the format that needs it
(Slack mrkdwn, HTML mail) in that destination's module."""

from __future__ import annotations

from tracer_ai.summary import (
    AlertContext,
    AlertSummary,
    clean_untrusted,
    format_number,
    metric_value,
    window_counts,
)
from tracer_core.models import AlertEventKind

SAMPLES_SHOWN = 5

EVENT_WORD = {
    AlertEventKind.OPENED: "New alert",
    AlertEventKind.ESCALATED: "Escalated",
    AlertEventKind.RESOLVED: "Resolved",
    AlertEventKind.REOPENED: "Reopened",
    AlertEventKind.ACKNOWLEDGED: "Acknowledged",
    AlertEventKind.UNACKNOWLEDGED: "Unacknowledged",
    AlertEventKind.RESOLVED_BY_HAND: "Resolved by hand",
    AlertEventKind.RENOTIFIED: "Still unacknowledged",
}

QUIET_EVENTS = frozenset(
    {
        AlertEventKind.RESOLVED,
        AlertEventKind.ACKNOWLEDGED,
        AlertEventKind.UNACKNOWLEDGED,
        AlertEventKind.RESOLVED_BY_HAND,
    }
)
"""Events whose message leaves out impact, cause, next steps and samples."""


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def one_line(text: str) -> str:
    return " ".join(text.split())


def facts(ctx: AlertContext) -> list[tuple[str, str]]:
    """The alert's label/value pairs, in the order every destination shows them. The
    severity is in the title, so it is not repeated here; counts are the window's real
    errors and requests when the detector reported them."""
    found = [
        ("Service", f"{ctx.project}/{ctx.service}"),
        ("Type", ctx.alert_type.value),
        ("Window", f"{ctx.window_start:%Y-%m-%d %H:%M:%S} – {ctx.window_end:%H:%M:%S} UTC"),
    ]
    counts = window_counts(ctx)
    if counts:
        found.append(("Errors", counts))
    for key in ("observed", "baseline_mean", "baseline_std"):
        value = ctx.details.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            found.append((key.replace("_", " ").capitalize(), metric_value(ctx, value)))
    zscore = ctx.details.get("z_score")
    if isinstance(zscore, int | float) and not isinstance(zscore, bool):
        found.append(("Z score", format_number(zscore)))
    if ctx.owner:
        found.append(("Owner", ctx.owner))
    if ctx.runbook_url:
        found.append(("Runbook", ctx.runbook_url))
    return found


def top_samples(ctx: AlertContext) -> list[tuple[int, str]]:
    """The most frequent sample messages, cleaned of control characters and cut short."""
    top = sorted(ctx.samples, key=lambda s: -s.count)[:SAMPLES_SHOWN]
    return [(s.count, clean_untrusted(s.message, 300)) for s in top]


def source_note(summary: AlertSummary) -> str:
    """Who wrote the summary, in italics (underscores) for the formats that have them."""
    if summary.source == "llm":
        return f"_Summary by {summary.model or 'LLM'}, confidence {summary.confidence}._"
    return "_Template summary (no LLM)._"
