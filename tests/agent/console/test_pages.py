"""Console pages against real PostgreSQL: the incidents list orders and filters, its rows
partial is what the page polls, the incident page draws the rollup chart with its band and
anomalous minutes, services show sparklines, admins create keys, and chat without an LLM says
why."""

from __future__ import annotations

import re
from contextlib import aclosing
from datetime import UTC, datetime, timedelta

import asyncpg

from tests.agent.console.helpers import csrf_of, signed_in
from tests.agent.helpers import add_event, agent_settings, new_key, open_alert, run_agent
from tracer_core.models import Role


async def _rollups(
    pool: asyncpg.Pool, service: str, minutes: int, bad_from: int, project: str = "default"
) -> None:
    """`minutes` minutes of rollups ending now; from `bad_from` on, errors jump."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for i in range(minutes):
        bad = i >= bad_from
        await pool.execute(
            """
            INSERT INTO service_rollups (project, service, minute, count, errors, p95_ms,
                error_rate_mean, error_rate_std, count_mean, count_std, p95_mean, p95_std,
                score, anomalous)
            VALUES ($6, $1, $2, 600, $3, 80, 0.01, 0.004, 600, 20, 80, 5, $4, $5)
            """,
            service,
            now - timedelta(minutes=minutes - i),
            120 if bad else 6,
            9.0 if bad else 0.5,
            bad,
            project,
        )


async def _incident(pool: asyncpg.Pool, alert_id: int) -> int:
    return int(await pool.fetchval("SELECT incident_id FROM alerts WHERE id = $1", alert_id))


async def test_incidents_list_orders_filters_and_polls(
    database_url: str, pool: asyncpg.Pool
) -> None:
    key = await new_key(pool, Role.ENGINEER)
    low, _ = await open_alert(pool, service="search", severity="low")
    critical, _ = await open_alert(pool, service="payments", severity="critical")
    done, _ = await open_alert(pool, service="checkout", severity="critical")
    await add_event(pool, done, "resolved", "critical")
    low, critical, done = [await _incident(pool, a) for a in (low, critical, done)]
    async with run_agent(agent_settings(database_url)) as agent:
        client = await signed_in(agent, key)
        async with aclosing(client):
            page = await client.get("/")
            ids = [int(i) for i in re.findall(r'data-incident-id="(\d+)"', page.text)]
            assert ids == [critical, low, done]  # open first, then severity
            assert 'hx-trigger="every 5s"' in page.text
            rows = await client.get("/incidents/rows", params={"status": "open"})
            assert "<html" not in rows.text
            assert [int(i) for i in re.findall(r'data-incident-id="(\d+)"', rows.text)] == [
                critical,
                low,
            ]
            new = await _incident(pool, (await open_alert(pool, service="orders"))[0])
            polled = await client.get("/incidents/rows")
            assert f'data-incident-id="{new}"' in polled.text
            only = await client.get("/", params={"service": "SEARCH"})
            assert re.findall(r'data-incident-id="(\d+)"', only.text) == [str(low)]


async def test_incident_page_shows_chart_timeline_and_templates(
    database_url: str, pool: asyncpg.Pool
) -> None:
    key = await new_key(pool, Role.ADMIN)
    details = {
        "observed": 0.2,
        "baseline_mean": 0.01,
        "samples": [{"template": "payment <n> failed: upstream timeout", "count": 17}],
    }
    alert_id, _ = await open_alert(pool, service="checkout", details=details)
    incident_id = await _incident(pool, alert_id)
    await _rollups(pool, "checkout", minutes=20, bad_from=15)
    async with run_agent(agent_settings(database_url)) as agent:
        client = await signed_in(agent, key)
        async with aclosing(client):
            page = await client.get(f"/incidents/{incident_id}")
            assert page.status_code == 200
            assert 'data-points="20"' in page.text
            assert page.text.count('class="anomaly"') == 5
            assert 'class="band"' in page.text
            assert "Error rate of checkout" in page.text
            assert "payment &lt;n&gt; failed: upstream timeout" in page.text
            assert "<td>17</td>" in page.text
            assert "<strong>opened</strong>" in page.text
            cited = await client.get(f"/alerts/{alert_id}")
            assert cited.headers["location"] == f"/incidents/{incident_id}"
            missing = await client.get("/incidents/999999")
            assert missing.status_code == 404


async def test_services_and_service_page_from_rollups(
    database_url: str, pool: asyncpg.Pool
) -> None:
    key = await new_key(pool, Role.ENGINEER)
    await _rollups(pool, "checkout", minutes=30, bad_from=25)
    await open_alert(pool, service="checkout")
    async with run_agent(agent_settings(database_url)) as agent:
        client = await signed_in(agent, key)
        async with aclosing(client):
            page = await client.get("/services")
            assert 'aria-label="checkout error rate"' in page.text
            assert "1 open" in page.text
            assert "20.0%" in page.text  # the last minute: 120 of 600
            service = await client.get("/services/checkout")
            assert service.text.count('class="chart"') == 3
            assert "error spike on checkout" in service.text


async def test_a_service_name_in_two_projects_is_two_services(
    database_url: str, pool: asyncpg.Pool
) -> None:
    key = await new_key(pool, Role.ENGINEER)
    await _rollups(pool, "api", minutes=10, bad_from=5, project="shop")
    await _rollups(pool, "api", minutes=10, bad_from=99, project="billing")
    async with run_agent(agent_settings(database_url)) as agent:
        client = await signed_in(agent, key)
        async with aclosing(client):
            page = await client.get("/services")
            assert page.text.count('aria-label="api error rate"') == 2
            assert "/services/api?project=shop" in page.text
            assert "/services/api?project=billing" in page.text
            billing = await client.get("/services/api", params={"project": "billing"})
            shop = await client.get("/services/api", params={"project": "shop"})
            assert "20.0%" in shop.text  # shop's last minute: 120 of 600 failed
            assert "20.0%" not in billing.text  # billing never failed


async def test_admin_creates_and_revokes_keys(database_url: str, pool: asyncpg.Pool) -> None:
    key = await new_key(pool, Role.ADMIN)
    async with run_agent(agent_settings(database_url)) as agent:
        client = await signed_in(agent, key)
        async with aclosing(client):
            admin = await client.get("/admin")
            assert "The file validates" in admin.text
            assert "slack-incidents" in admin.text
            made = await client.post(
                "/admin/keys",
                data={"role": "engineer", "name": "carol", "csrf_token": csrf_of(admin.text)},
            )
            secret = re.search(r'id="new-key">([^<]+)<', made.text)
            assert secret is not None
            assert secret.group(1).startswith("trc_")
            prefix = secret.group(1).split("_")[1]
            revoked = await client.post(
                f"/admin/keys/{prefix}/revoke", data={"csrf_token": csrf_of(admin.text)}
            )
            assert revoked.status_code == 303
    assert await pool.fetchval("SELECT revoked_at IS NOT NULL FROM api_keys WHERE name = 'carol'")


async def test_chat_without_an_llm_explains_the_503(database_url: str, pool: asyncpg.Pool) -> None:
    key = await new_key(pool, Role.ENGINEER)
    async with run_agent(agent_settings(database_url)) as agent:
        client = await signed_in(agent, key)
        async with aclosing(client):
            page = await client.get("/chat")
            assert "no LLM is configured" in page.text
            assert "OPENAI_BASE_URL" in page.text
            answer = await client.post(
                "/chat/stream", data={"message": "hi", "csrf_token": csrf_of(page.text)}
            )
            assert answer.status_code == 503
            assert "no LLM is configured" in answer.text


async def test_acknowledge_resolve_and_silence_from_the_pages(
    database_url: str, pool: asyncpg.Pool
) -> None:
    key = await new_key(pool, Role.ENGINEER, "dana")
    alert_id, _ = await open_alert(pool, service="checkout", severity="critical")
    incident_id = await _incident(pool, alert_id)
    async with run_agent(agent_settings(database_url)) as agent:
        client = await signed_in(agent, key)
        async with aclosing(client):
            page = await client.get(f"/incidents/{incident_id}")
            token = csrf_of(page.text)
            acked = await client.post(f"/incidents/{incident_id}/ack", data={"csrf_token": token})
            assert acked.status_code == 303
            page = await client.get(f"/incidents/{incident_id}")
            assert "acknowledged by dana" in page.text
            listed = await client.get("/")
            assert "✓ dana" in listed.text

            form = await client.get(
                "/silences", params={"service": "checkout", "alert_type": "error_spike"}
            )
            assert 'name="service" value="checkout"' in form.text
            made = await client.post(
                "/silences",
                data={"service": "checkout", "duration_minutes": "60", "comment": "deploy",
                      "csrf_token": token},
            )  # fmt: skip
            assert made.status_code == 303
            silenced = await client.get("/")
            assert "🔕 silenced" in silenced.text
            refused = await client.post(
                "/silences", data={"duration_minutes": "60", "csrf_token": token}
            )
            assert refused.status_code == 422
            assert "at least one matcher" in refused.text
            silence_id = await pool.fetchval("SELECT id FROM silences")
            expired = await client.post(
                f"/silences/{silence_id}/expire", data={"csrf_token": token}
            )
            assert expired.status_code == 303

            resolved = await client.post(
                f"/incidents/{incident_id}/resolve", data={"csrf_token": token}
            )
            assert resolved.status_code == 303
    row = await pool.fetchrow("SELECT * FROM incidents WHERE id = $1", incident_id)
    assert row is not None
    assert (row["acknowledged_by"], row["resolved_by"], row["status"]) == (
        "dana",
        "dana",
        "resolved",
    )
    assert await pool.fetchval("SELECT expired_at IS NOT NULL FROM silences")
