"""End to end: two processor replicas (real processes) receive the same traffic with an
incident in it; the agent (with OpenAI faked at the transport) routes the one alert to its
destinations in the local sink, and follows it through escalation and resolution. Then the
`tracer demo` command tells the same story on its own and exits 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import respx

from tests.agent.helpers import agent_settings, run_agent
from tests.fakes.openai_bridge import bridged_client, chat_completion
from tests.support import eventually, free_port, wait_until
from tracer.commands.demo_traffic import Scenario, start_time, traffic

LLM_TITLE = "Checkout payments failing: the payment gateway answers 503"


def _summary(request: httpx.Request) -> httpx.Response:
    facts = json.loads(request.content)["messages"][1]["content"]
    event = next(word for word in ("opened", "escalated", "resolved") if f'"{word}"' in facts)
    body = {
        "title": f"{LLM_TITLE} ({event})",
        "what_happened": "Checkout's error rate rose from 1% to over 60%.",
        "impact": "Most orders fail at payment.",
        "likely_cause": "The payment gateway is refusing connections.",
        "next_steps": ["Check the payment gateway's status", "Fail over to the backup gateway"],
        "confidence": "high",
    }
    return httpx.Response(200, json=chat_completion(json.dumps(body)))


@contextmanager
def processors(database_url: str, home: Path, count: int = 2) -> Iterator[list[str]]:
    started: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for index in range(count):
            port = free_port()
            env = {**os.environ, "DATABASE_URL": database_url, "TRACER_HOME": str(home),
                   "TRACER_PROCESSOR_ID": f"processor-{index + 1}"}  # fmt: skip
            process = subprocess.Popen(
                [sys.executable, "-m", "tracer", "processor", "--port", str(port)],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            started.append((process, f"http://127.0.0.1:{port}"))
        for process, url in started:

            def healthy(process: subprocess.Popen[bytes] = process, url: str = url) -> bool:
                assert process.poll() is None, "processor exited"
                try:
                    return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(healthy, timeout=60)
        yield [url for _, url in started]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            process.wait(timeout=20)


async def _story_done(pool: asyncpg.Pool) -> list[dict[str, Any]] | None:
    kinds = {r["kind"] for r in await pool.fetch("SELECT kind FROM alert_events")}
    rows = [dict(r) for r in await pool.fetch("SELECT status, toolkit FROM deliveries")]
    if "resolved" in kinds and rows and all(r["status"] == "delivered" for r in rows):
        undispatched = await pool.fetchval(
            "SELECT count(*) FROM alert_events WHERE dispatched_at IS NULL"
        )
        return rows if undispatched == 0 else None
    return None


async def test_two_processors_one_alert_one_message_per_destination_with_llm_summary(
    database_url: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    api = respx.Router(base_url="https://api.openai.com/v1", assert_all_mocked=True)
    api.post("/chat/completions").mock(side_effect=_summary)
    scenario = Scenario()
    settings = agent_settings(database_url, openai_api_key="sk-test")
    with processors(database_url, tmp_path) as urls:
        async with run_agent(settings, llm_http_client=bridged_client(api)):
            async with httpx.AsyncClient(timeout=60) as client:
                for batch in traffic(scenario, start_time(scenario), seed=11):
                    for url in urls:
                        answer = await client.post(f"{url}/api/logs", json=batch)
                        assert answer.status_code == 202, answer.text
            await eventually(lambda: _story_done(pool), within=60)

    alerts = await pool.fetch("SELECT id, service, alert_type, reporters FROM alerts")
    assert [(a["service"], a["alert_type"]) for a in alerts] == [("checkout", "error_spike")]
    assert set(alerts[0]["reporters"]) == {"processor-1", "processor-2"}
    kinds = [r["kind"] for r in await pool.fetch("SELECT kind FROM alert_events ORDER BY id")]
    assert kinds[0] == "opened"
    assert kinds[-1] == "resolved"

    sink = [dict(r) for r in await pool.fetch("SELECT * FROM sink_messages ORDER BY id")]
    slack = [m for m in sink if m["toolkit"] == "slack"]
    opened_slack = [m for m in slack if m["thread_ref"] is None]
    assert len(opened_slack) == 1  # one message per destination; the rest reply in its thread
    assert {m["thread_ref"] for m in slack[1:]} == {opened_slack[0]["external_id"]}
    assert [m["tool"] for m in sink].count("JIRA_CREATE_ISSUE") == 1
    assert {m["thread_ref"] for m in sink if m["toolkit"] == "jira"} == {"OPS-1"}
    if "escalated" in kinds:  # critical: PagerDuty paged once, resolved on the same key
        pagerduty = [m for m in sink if m["toolkit"] == "pagerduty"]
        assert [m["tool"] for m in pagerduty].count("PAGERDUTY_CREATE_INCIDENT_RECORD") == 1
        assert {m["thread_ref"] for m in pagerduty} == {"shop/checkout/error_spike"}
    assert f"{LLM_TITLE} (opened)" in opened_slack[0]["arguments"]["markdown_text"]
    assert f"{LLM_TITLE} (resolved)" in slack[-1]["arguments"]["markdown_text"]
    assert await pool.fetchval("SELECT count(*) FROM alert_summaries WHERE source = 'llm'") == len(
        kinds
    )


def test_tracer_demo_tells_the_story_and_exits_0(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "TRACER_HOME": str(tmp_path), "COLUMNS": "200"}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "tracer", "demo", "--database-url", database_url],
        capture_output=True, text=True, timeout=240, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for step in ("detection", "dedup", "summary", "delivered", "resolved"):
        assert step in out, out
    assert "processor-1 ×" in out
    assert "processor-2 ×" in out
    assert "still one alert" in out
    assert "SLACK_SEND_MESSAGE" in out
    assert "New alert: Error spike on checkout" in out  # the Slack text is shown, not blank
    assert "JIRA_CREATE_ISSUE" in out
