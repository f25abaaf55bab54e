"""The console in a real headless Chromium (Debian's `chromium`, driven by Playwright), against
a real processor process, the agent and PostgreSQL: sign in with a key, watch an incident made
by replayed traffic appear without reloading, open it (chart with points, timeline, summary),
acknowledge it (and see that in the sink's Slack thread), silence like it, check the roles,
the CSRF refusal and sign-out. Saves screenshots of the main pages to docs/screenshots/ for
the README."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from tests.agent.helpers import agent_settings, new_key, run_agent
from tests.integration.test_end_to_end_agent import processors
from tests.support import eventually
from tracer.commands.demo_traffic import Scenario, start_time, traffic
from tracer_core.models import Role

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LAPTOP: ViewportSize = {"width": 1280, "height": 860}
PHONE: ViewportSize = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the browser tests: install Debian's chromium (.ci/run does)")
        pytest.skip("chromium is not installed (apt-get install chromium); CI runs this test")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            await browser.close()


async def _sign_in(page: Page, base: str, key: str) -> None:
    await page.goto(f"{base}/")
    assert "/login" in page.url
    await page.get_by_label("API key (engineer or admin)").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}/")


async def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def _replay(urls: list[str]) -> None:
    """The demo's outage without its recovery: the incident is still open at the end."""
    scenario = Scenario(recovery_buckets=1)
    async with httpx.AsyncClient(timeout=60) as client:
        for batch in traffic(scenario, start_time(scenario), seed=11):
            answer = await client.post(f"{urls[0]}/api/logs", json=batch)
            assert answer.status_code == 202, answer.text


async def test_console_in_chromium(
    database_url: str, pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engineer = await new_key(pool, Role.ENGINEER, "alice")
    admin = await new_key(pool, Role.ADMIN, "root")
    monkeypatch.setenv("TRACER_ROLLUP_FLUSH_SECONDS", "1")
    async with chromium() as browser:
        with processors(database_url, tmp_path, count=1) as urls:
            async with run_agent(agent_settings(database_url)) as agent:
                base = agent.url
                context = await browser.new_context(viewport=LAPTOP)
                page = await context.new_page()
                await _sign_in(page, base, engineer)
                assert await page.locator("tr[data-incident-id]").count() == 0

                # The incident appears on the open page, which polls: no reload.
                await _replay(urls)
                row = page.locator("tr[data-incident-id]").first
                await row.wait_for(timeout=30_000)
                assert "checkout" in await row.inner_text()
                alert_id = await row.get_attribute("data-incident-id")
                await _shot(page, "incidents")

                # Its page: the chart has points, the timeline and the summary are there.
                async def summarised() -> bool:
                    count = await pool.fetchval("SELECT count(*) FROM alert_summaries")
                    return bool(count)

                await eventually(summarised, within=60)
                await page.goto(f"{base}/incidents/{alert_id}")
                points = await page.locator("svg.chart polyline.series").get_attribute("points")
                assert points is not None
                assert len(points.split()) > 10
                assert await page.locator("svg.chart circle.anomaly").count() >= 1
                assert await page.locator("ol.timeline li").count() >= 2
                summary = page.locator("section[aria-labelledby=summary-h]")
                assert "Written by the template" in await summary.inner_text()
                await _shot(page, "incident")

                # Acknowledge from the page (the API's own function records who and when).
                await page.get_by_role("button", name="Acknowledge").click()
                await page.wait_for_url(f"{base}/incidents/{alert_id}")
                state = await page.locator("#incident-state").inner_text()
                assert "acknowledged by alice" in state
                acked_by = await pool.fetchval(
                    "SELECT acknowledged_by FROM incidents WHERE id = $1", int(str(alert_id))
                )
                assert acked_by == "alice"

                # ... and the acknowledgement reaches the incident's Slack thread in the sink.
                async def acknowledged_in_thread() -> bool:
                    rows = await pool.fetch(
                        "SELECT arguments::text AS text FROM sink_messages "
                        "WHERE toolkit = 'slack' AND thread_ref IS NOT NULL"
                    )
                    return any("alice" in r["text"] for r in rows)

                await eventually(acknowledged_in_thread, within=60)

                # Silence like this: the form comes prefilled from the incident.
                await page.get_by_role("link", name="Silence like this…").click()
                assert await page.get_by_label("Service").input_value() == "checkout"
                await page.get_by_label("Comment").fill("payment gateway maintenance")
                await page.get_by_role("button", name="Create silence").click()
                await page.wait_for_url(f"{base}/silences")
                await page.locator("tr[data-silence-id]").first.wait_for()
                await _shot(page, "silences")

                await page.goto(f"{base}/services")
                await page.locator("svg.spark").first.wait_for()
                await _shot(page, "services")
                await page.goto(f"{base}/chat")
                await _shot(page, "chat")

                # Engineers do not reach admin pages; a POST without the CSRF token is refused.
                assert (await page.goto(f"{base}/admin")).status == 403  # type: ignore[union-attr]
                refused = await page.request.post(f"{base}/logout", form={})
                assert refused.status == 403
                await page.goto(f"{base}/")
                assert page.url == f"{base}/"  # still signed in

                # Phone width: the list is still usable.
                await page.set_viewport_size(PHONE)
                await _shot(page, "incidents-phone")
                await page.set_viewport_size(LAPTOP)

                # Sign out ends the session.
                await page.get_by_role("button", name="Sign out").click()
                await page.wait_for_url(f"{base}/login")
                await page.goto(f"{base}/incidents/{alert_id}")
                assert "/login" in page.url

                admin_page = await (await browser.new_context(viewport=LAPTOP)).new_page()
                await _sign_in(admin_page, base, admin)
                await admin_page.goto(f"{base}/admin")
                assert "API keys" in await admin_page.inner_text("main")
                await _shot(admin_page, "admin")
    assert await pool.fetchval("SELECT count(*) FROM console_sessions") == 1  # the admin's
