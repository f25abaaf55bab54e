"""`tracer demo`: Tracer's whole story on one machine, in about a minute, then exit.

Two processor replicas and the agent start as separate processes on the embedded defaults
(PostgreSQL included, alerts delivered to the agent's local MCP sink). The same replay of
log traffic, with an incident in it, goes to both processors; the timeline printed as it
happens shows the detection, the deduplication (both replicas report, one alert exists), the
summary, and each delivery landing in the sink, through escalation to resolution.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from tracer.commands.demo_timeline import Timeline, tell_story
from tracer.commands.demo_traffic import SERVICES, Scenario, start_time, traffic
from tracer.commands.errors import user_errors
from tracer.commands.options import DatabaseUrlOption
from tracer.commands.up import Child, stop_all, wait_healthy
from tracer_core.db import with_database
from tracer_core.embedded import EmbeddedPostgres
from tracer_core.migrate import migrate
from tracer_core.settings import BaseTracerSettings, load_settings

console = Console(highlight=False)
DEMO_DATABASE = "tracer_demo"
# The demo always uses the local sink and the built-in routing rules.
_NOT_FOR_DEMO = ("COMPOSIO_API_KEY", "COMPOSIO_BASE_URL", "TRACER_ROUTING_FILE", "TRACER_SINK_URL")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn_quiet(
    role: str, name: str, database_url: str, logs: Path, extra: dict[str, str]
) -> Child:
    """Start `tracer <role>` on a free loopback port with its output in `logs/<name>.log`,
    on the local sink and built-in rules whatever this shell configures."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in _NOT_FOR_DEMO}
    env.update({"DATABASE_URL": database_url, "TRACER_LOG_LEVEL": "WARNING", **extra})
    log_file = (logs / f"{name}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "tracer", role, "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log_file, stderr=subprocess.STDOUT,
    )  # fmt: skip
    return Child(name=name, url=f"http://127.0.0.1:{port}", process=process)


@contextmanager
def _demo_database(database_url: str | None, home: Path) -> Iterator[tuple[str, str]]:
    """A fresh `tracer_demo` database on the embedded server, or the configured database
    as it is (the demo then keeps to a project of its own). Yields (url, description)."""
    if database_url:
        yield database_url, "DATABASE_URL"
        return
    embedded = EmbeddedPostgres(home)
    embedded.start()
    try:
        url = embedded.server_url(DEMO_DATABASE)
        asyncio.run(_recreate(url))
        yield url, f"embedded PostgreSQL, database {DEMO_DATABASE} under {embedded.pgdata}"
    finally:
        embedded.stop()


async def _recreate(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {DEMO_DATABASE} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {DEMO_DATABASE}")
    finally:
        await conn.close()


def _replay(processors: list[Child], scenario: Scenario, project: str, seed: int) -> int:
    start = start_time(scenario)
    sent = 0
    with httpx.Client(timeout=60.0) as client:
        for batch in traffic(scenario, start, seed=seed):
            for record in batch:
                record["project"] = project
            for child in processors:
                answer = client.post(f"{child.url}/api/logs", json=batch)
                if answer.status_code != 202:
                    raise RuntimeError(
                        f"{child.name} refused logs: {answer.status_code} {answer.text}"
                    )
            sent += len(batch)
    return sent


async def _story(
    url: str, project: str, processors: list[Child], scenario: Scenario, seed: int, within: float
) -> bool:
    timeline = Timeline(url, project, console)
    await timeline.begin()
    minutes = scenario.total_buckets * scenario.bucket_seconds / 60
    timeline.say(
        f"replaying {minutes:.0f} min of logs from {', '.join(SERVICES)} "
        f"(project {project}) to both processors"
    )
    replay = asyncio.to_thread(_replay, processors, scenario, project, seed)
    return await tell_story(timeline, replay, deadline=time.monotonic() + within)


def demo(
    database_url: DatabaseUrlOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated traffic.")] = 7,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the story to end.")] = 120.0,
) -> None:
    """Replay traffic with an incident through two processors and the agent; print what
    happens, from detection to the messages in the local sink."""
    with user_errors():
        settings = load_settings(BaseTracerSettings, database_url=database_url)
    home = settings.home
    logs = home / "demo-logs"
    logs.mkdir(parents=True, exist_ok=True)
    project = f"shop-{secrets.token_hex(2)}"
    scenario = Scenario()
    children: list[Child] = []
    failure = ""
    with user_errors(), _demo_database(settings.database_url, home) as (url, where):
        try:
            asyncio.run(migrate(url))
            console.print(f"[bold]Tracer demo[/] · {where}")
            for index in (1, 2):
                name = f"processor-{index}"
                children.append(
                    spawn_quiet("processor", name, url, logs, {"TRACER_PROCESSOR_ID": name})
                )
            children.append(spawn_quiet("agent", "agent", url, logs, {}))
            wait_healthy(children)
            for child in children:
                console.print(f"  {child.name:<12} {child.url}")
            console.print(
                f"  summaries by {_summaries_by()}; messages go to the agent's local sink\n"
            )
            ok = asyncio.run(_story(url, project, children[:2], scenario, seed, timeout))
            if not ok:
                failure = f"the story did not finish within {timeout:.0f} s"
        except RuntimeError as exc:
            failure = str(exc)
        finally:
            stop_all(children)
    if failure:
        console.print(f"[bold red]error:[/] {escape(failure)}; the logs are in {logs}")
        raise typer.Exit(1)
    console.print(
        "\n[bold green]done[/]: one incident, two replicas, one alert, each destination told "
        "once, in one thread. The messages stayed in the local sink."
    )


def _summaries_by() -> str:
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return "the LLM"
    return "the template (set OPENAI_API_KEY for LLM summaries)"
