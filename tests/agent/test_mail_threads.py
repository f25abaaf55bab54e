"""Every mail of an incident after the first is a reply in the first mail's Gmail thread:
the sink stores it under that thread, and the crash probe still finds replies by marker."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from tests.agent.helpers import (
    add_event,
    agent_settings,
    eventually,
    new_key,
    open_alert,
    run_agent,
    settled,
)
from tracer_agent.sink.store import SinkError, SinkStore
from tracer_ai.destinations import gmail
from tracer_core.models import Role

ROUTING = """
[[destinations]]
name = "mail"
toolkit = "gmail"
recipients = ["oncall@example.com", "sre@example.com"]

[[rules]]
send_to = ["mail"]
"""


async def test_escalation_and_acknowledgement_are_replies_in_the_first_mails_thread(
    database_url: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    routing = tmp_path / "routing.toml"
    routing.write_text(ROUTING)
    settings = agent_settings(database_url, routing_file=routing)
    async with run_agent(settings) as agent:
        key = await new_key(pool, Role.ENGINEER, "alice")
        alert_id, _ = await open_alert(pool, severity="high")
        await eventually(lambda: settled(pool, 1))
        await add_event(pool, alert_id, "escalated", "critical")
        await eventually(lambda: settled(pool, 2))
        incident_id = await pool.fetchval("SELECT incident_id FROM alerts WHERE id = $1", alert_id)
        async with agent.client(key) as client:
            assert (await client.post(f"/api/incidents/{incident_id}/ack")).status_code == 200
            await eventually(lambda: settled(pool, 3))
            listed = (await client.get("/api/sink/messages")).json()

    first, *later = sorted(listed, key=lambda m: m["id"])
    assert first["tool"] == "GMAIL_SEND_EMAIL"
    thread_id = first["result"]["threadId"]
    assert first["thread_ref"] == thread_id
    assert [m["tool"] for m in later] == ["GMAIL_REPLY_TO_THREAD"] * 2
    assert all(m["thread_ref"] == thread_id for m in later)
    assert all(m["arguments"]["thread_id"] == thread_id for m in later)
    assert all(m["target"] == "oncall@example.com, sre@example.com" for m in later)
    assert all(m["arguments"]["subject"] == f"Re: {first['arguments']['subject']}" for m in later)
    assert "acknowledged by alice" in later[-1]["arguments"]["message_body"]
    kept = await pool.fetchval("SELECT data ->> 'thread_id' FROM delivery_threads")
    assert kept == thread_id


async def test_replies_need_a_thread_and_are_found_by_their_marker(pool: asyncpg.Pool) -> None:
    sink = SinkStore(pool)
    with pytest.raises(SinkError, match="not found"):
        await sink.gmail_reply(thread_id="nope", recipients=["a@b.c"], arguments={})
    sent = await sink.gmail_send(
        recipients=["a@b.c"], subject="[Tracer] New alert", arguments={"body": "first"}
    )
    reply = await sink.gmail_reply(
        thread_id=sent["threadId"],
        recipients=["a@b.c"],
        arguments={"message_body": "<p>later</p><p><small>Tracer ref d9-send</small></p>"},
    )
    assert reply["threadId"] == sent["threadId"]
    assert reply["id"] != sent["id"]
    found = gmail.find_marker(
        {"messages": await sink.gmail_search(text="Tracer ref d9-send", limit=5)},
        "tracer-d9-send",
    )
    assert found == {"message_id": reply["id"], "thread_id": sent["threadId"]}
