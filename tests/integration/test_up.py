"""`tracer up` brings both apps up on a real database and stops them on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import free_port, wait_until


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("interrupts", [1, 2], ids=["ctrl-c", "ctrl-c-twice"])
def test_up_serves_both_apps_and_stops_cleanly(
    database_url: str, tmp_path: Path, interrupts: int
) -> None:
    """A second interrupt (as `uv run` forwards one Ctrl-C twice) must not cut shutdown short."""
    processor_port, agent_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "TRACER_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "tracer", "up",
            "--processor-port", str(processor_port),
            "--agent-port", str(agent_port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        wait_until(lambda: _healthy(f"http://127.0.0.1:{processor_port}"), timeout=60)
        wait_until(lambda: _healthy(f"http://127.0.0.1:{agent_port}"), timeout=60)
        ready = httpx.get(f"http://127.0.0.1:{agent_port}/readyz", timeout=5.0)
        assert ready.status_code == 200
        metrics = httpx.get(f"http://127.0.0.1:{processor_port}/metrics", timeout=5.0)
        assert metrics.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        seen = []
        if interrupts == 2:
            # The second interrupt lands while the shutdown is under way.
            assert proc.stdout is not None
            for line in proc.stdout:
                seen.append(line)
                if "stopping" in line:
                    proc.send_signal(signal.SIGINT)
                    break
        rest, _ = proc.communicate(timeout=30)
        output = "".join(seen) + rest
    assert proc.returncode == 0, output
    assert "stopped" in output
    assert not _healthy(f"http://127.0.0.1:{processor_port}")


def test_invalid_setting_gives_readable_error(tmp_path: Path) -> None:
    env = {**os.environ, "TRACER_DB_POOL_MAX_SIZE": "lots", "TRACER_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "tracer", "processor"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "TRACER_DB_POOL_MAX_SIZE='lots'" in result.stderr
    assert "Traceback" not in result.stderr
