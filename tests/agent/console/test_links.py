"""Messages link to the incident's console page under the public URL, and only when one is
set (a link to 127.0.0.1 in a Slack message helps nobody)."""

from __future__ import annotations

import asyncpg

from tests.agent.helpers import open_alert
from tracer_agent.settings import AgentSettings
from tracer_agent.summaries import load_context


async def test_open_in_tracer_points_at_the_incident_page(pool: asyncpg.Pool) -> None:
    alert_id, event_id = await open_alert(pool, service="checkout")
    incident_id = await pool.fetchval("SELECT incident_id FROM alerts WHERE id = $1", alert_id)
    linked = await load_context(pool, event_id, console_url="https://tracer.example.com/")
    assert linked.alert_url == f"https://tracer.example.com/incidents/{incident_id}"
    assert (await load_context(pool, event_id)).alert_url is None


def test_tracer_public_url_names_the_public_url_too() -> None:
    settings = AgentSettings.model_validate({"TRACER_PUBLIC_URL": "https://t.example.com"})
    assert settings.public_url == "https://t.example.com"
