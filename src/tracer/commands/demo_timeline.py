"""The timeline `tracer demo` prints: what the processors and the agent wrote to PostgreSQL,
read back as it happens and told in order (detection, deduplication, summaries, deliveries)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from rich.console import Console
from rich.markup import escape
from rich.table import Table

_POLL_SECONDS = 0.1


@dataclass
class Timeline:
    database_url: str
    project: str
    console: Console
    started: float = 0.0
    since: datetime | None = None
    _seen: set[str] = field(default_factory=set)

    async def begin(self) -> None:
        conn = await asyncpg.connect(self.database_url)
        try:
            self.since = await conn.fetchval("SELECT clock_timestamp()")
        finally:
            await conn.close()
        self.started = time.monotonic()

    def say(self, text: str, *, at: datetime | None = None) -> None:
        if at is not None and self.since is not None:
            elapsed = (at - self.since).total_seconds()
        else:
            elapsed = time.monotonic() - self.started
        self.console.print(f"[dim]{elapsed:+7.2f} s[/]  {text}")

    def _once(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    async def poll(self, conn: asyncpg.Connection) -> tuple[bool, bool]:
        """Print what is new; returns (finished, every delivery succeeded)."""
        alerts = await conn.fetch(
            "SELECT id, alert_type, service, title, first_seen_at, last_seen_at, reporters "
            "FROM alerts WHERE project = $1 ORDER BY id",
            self.project,
        )
        events = await conn.fetch(
            """
            SELECT e.id, e.alert_id, e.kind, e.severity, e.created_at, e.dispatched_at
            FROM alert_events e JOIN alerts a ON a.id = e.alert_id
            WHERE a.project = $1 ORDER BY e.id
            """,
            self.project,
        )
        summaries = await conn.fetch(
            """
            SELECT s.event_id, s.alert_id, s.source, s.model, s.summary, s.created_at, e.kind
            FROM alert_summaries s JOIN alert_events e ON e.id = s.event_id
            JOIN alerts a ON a.id = s.alert_id WHERE a.project = $1
            """,
            self.project,
        )
        deliveries = await conn.fetch(
            """
            SELECT d.id, d.destination, d.toolkit, d.status, d.result, d.delivered_at,
                   d.last_error, d.updated_at, e.kind
            FROM deliveries d JOIN alert_events e ON e.id = d.event_id
            JOIN alerts a ON a.id = d.alert_id WHERE a.project = $1 ORDER BY d.id
            """,
            self.project,
        )
        lines = [
            *self._alert_lines(alerts),
            *self._event_lines(events),
            *self._summary_lines(summaries),
            *self._delivery_lines(deliveries),
        ]
        for at, text in sorted(lines, key=lambda item: item[0]):
            self.say(text, at=at)
        resolved = {e["alert_id"] for e in events if e["kind"] == "resolved"}
        finished = (
            bool(alerts)
            and all(a["id"] in resolved for a in alerts)
            and all(e["dispatched_at"] is not None for e in events)
            and all(d["status"] in ("delivered", "dead") for d in deliveries)
        )
        return finished, all(d["status"] == "delivered" for d in deliveries)

    def _alert_lines(self, alerts: list[asyncpg.Record]) -> list[tuple[datetime, str]]:
        lines = []
        for a in alerts:
            if self._once(f"alert:{a['id']}"):
                what = f"alert #{a['id']} {a['alert_type']} on {a['service']}: {a['title']}"
                lines.append((a["first_seen_at"], f"[bold]detection[/]   {escape(what)}"))
            reporters: dict[str, Any] = _json(a["reporters"])
            if len(reporters) >= 2 and self._once(f"dedup:{a['id']}"):
                counts = ", ".join(f"{name} ×{n}" for name, n in sorted(reporters.items()))
                what = f"{counts} reported it; still one alert, #{a['id']}"
                lines.append((a["last_seen_at"], f"[bold]dedup[/]       {escape(what)}"))
        return lines

    def _event_lines(self, events: list[asyncpg.Record]) -> list[tuple[datetime, str]]:
        lines = []
        for e in events:
            if e["kind"] != "opened" and self._once(f"event:{e['id']}"):
                change = "resolved" if e["kind"] == "resolved" else f"now {e['severity']}"
                lines.append(
                    (e["created_at"], f"[bold]{e['kind']:<11}[/] alert #{e['alert_id']} {change}")
                )
        return lines

    def _summary_lines(self, summaries: list[asyncpg.Record]) -> list[tuple[datetime, str]]:
        lines = []
        for s in summaries:
            if self._once(f"summary:{s['event_id']}"):
                by = f"LLM {s['model']}" if s["source"] == "llm" else "template"
                title = _json(s["summary"]).get("title", "")
                what = f'{e_kind(s["kind"])} of alert #{s["alert_id"]} by {by}: "{title}"'
                lines.append((s["created_at"], f"[bold]summary[/]     {escape(what)}"))
        return lines

    def _delivery_lines(self, deliveries: list[asyncpg.Record]) -> list[tuple[datetime, str]]:
        lines = []
        for d in deliveries:
            if d["status"] == "delivered" and self._once(f"delivery:{d['id']}"):
                what = describe(d["toolkit"], d["kind"], _json(d["result"]))
                text = f"[bold]delivered[/]   {escape(d['destination'])}: {escape(what)}"
                lines.append((d["delivered_at"], text))
            elif d["status"] == "dead" and self._once(f"dead:{d['id']}"):
                text = f"[bold red]dead[/]        {escape(d['destination'])}: "
                lines.append((d["updated_at"], text + escape(str(d["last_error"]))))
        return lines

    async def show_sink(self, conn: asyncpg.Connection) -> None:
        rows = await conn.fetch(
            "SELECT id, tool, target, thread_ref, arguments FROM sink_messages "
            "WHERE created_at >= $1 ORDER BY id",
            self.since,
        )
        table = Table(title=f"GET /api/sink/messages: {len(rows)} new message(s)")
        for column in ("tool", "thread", "text"):
            table.add_column(column, no_wrap=True, overflow="ellipsis", max_width=48)
        for row in rows:
            args = _json(row["arguments"])
            text = str(args.get("markdown_text") or args.get("fallback_text")
                       or args.get("text") or args.get("summary") or args.get("comment")
                       or args.get("incident__title") or args.get("transition_id_or_name")
                       or args.get("incident__status") or "")  # fmt: skip
            table.add_row(row["tool"], row["thread_ref"] or "(new)", escape(_first_line(text)))
        self.console.print()
        self.console.print(table)


def _first_line(text: str) -> str:
    """The first line of a message, without Slack emoji codes and emphasis marks."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = re.sub(r":[a-z_]+:", "", line).replace("*", "").replace("🔴", "").lstrip("# ")
    return line.strip()


def e_kind(kind: str) -> str:
    return {"opened": "opening", "escalated": "escalation", "resolved": "resolution",
            "reopened": "reopening"}.get(kind, kind)  # fmt: skip


def describe(toolkit: str, kind: str, result: dict[str, Any]) -> str:
    """One line on what a delivery did at its destination."""
    if result.get("skipped"):
        return f"nothing to send ({result['skipped']})"
    steps = result.get("steps") or {}
    if toolkit == "slack":
        where = "reply in thread" if result.get("thread_ref") != result.get("ts") else "message"
        return f"{where} ts={result.get('ts')} ({kind})"
    if toolkit == "jira":
        if "create" in steps:
            return f"issue {result.get('issue_key')} opened"
        done = " and moved to " + str(result.get("status")) if "transition" in steps else ""
        return f"comment on {result.get('thread_ref')}{done} ({kind})"
    if toolkit == "pagerduty":
        return (f"incident {result.get('incident_id')} {result.get('status')} "
                f"(dedup key {result.get('thread_ref')})")  # fmt: skip
    return f"mail {result.get('message_id')} sent ({kind})"


def _json(value: Any) -> dict[str, Any]:
    import json

    if isinstance(value, str):
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return value if isinstance(value, dict) else {}


async def tell_story(timeline: Timeline, replay: Awaitable[int], *, deadline: float) -> bool:
    """Tell the story while `replay` sends the traffic, until every alert resolved and every
    delivery settled (or time runs out); returns whether every delivery succeeded."""
    conn = await asyncpg.connect(timeline.database_url)
    sending: asyncio.Future[int] = asyncio.ensure_future(replay)
    try:
        while True:
            if sending.done() and timeline._once("replay"):
                timeline.say(f"replay sent: {sending.result():,} records to each processor")
            finished, all_ok = await timeline.poll(conn)
            if finished and sending.done():
                await timeline.show_sink(conn)
                return all_ok
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(_POLL_SECONDS)
    finally:
        if not sending.done():
            sending.cancel()
        await conn.close()
