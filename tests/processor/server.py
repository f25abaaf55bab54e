"""A real `tracer processor` process on a loopback port, for tests that need one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support import free_port, wait_until


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def running_processor(
    database_url: str, home: Path, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Start a processor, yield its base URL, stop it with SIGTERM (it must exit cleanly)."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TRACER_HOME": str(home),
        "TRACER_PROCESSOR_ID": "processor-test",
        **(env or {}),
    }
    log_path = home / "processor.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "tracer", "processor", "--port", str(port)],
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _healthy(url) or process.poll() is not None, timeout=60)
            if process.poll() is not None:
                raise RuntimeError(f"processor exited early:\n{log_path.read_text()}")
            yield url
            assert process.poll() is None, f"processor died:\n{log_path.read_text()}"
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def metric_value(url: str, name: str) -> float:
    """One sample of the processor's /metrics (`name` may include labels)."""
    text = httpx.get(f"{url}/metrics", timeout=5.0).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
