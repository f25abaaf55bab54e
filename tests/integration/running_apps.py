"""A real processor and agent, each its own `tracer` process on a free loopback port, for
tests that exercise them the way a user does (README examples, schemathesis)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support import free_port, is_healthy, wait_until


@dataclass(frozen=True)
class RunningApps:
    processor_url: str
    agent_url: str
    processor_port: int
    agent_port: int
    env: dict[str, str]


@contextmanager
def running_apps(database_url: str, home: Path) -> Iterator[RunningApps]:
    processor_port, agent_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "TRACER_HOME": str(home)}
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "tracer", role, "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for role, port in (("processor", processor_port), ("agent", agent_port))
    ]
    apps = RunningApps(
        processor_url=f"http://127.0.0.1:{processor_port}",
        agent_url=f"http://127.0.0.1:{agent_port}",
        processor_port=processor_port,
        agent_port=agent_port,
        env=env,
    )
    try:
        for url in (apps.processor_url, apps.agent_url):
            wait_until(lambda: is_healthy(url), timeout=90)  # noqa: B023 (called at once)
        yield apps
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=30)
