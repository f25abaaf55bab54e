"""Real processor processes in clustered mode (receivers and/or partition owners)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support import free_port, wait_until

CLUSTER_ENV = {
    "TRACER_PARTITIONS": "8",
    "TRACER_LEASE_SECONDS": "3",
    "TRACER_PARTITION_CHECKPOINT_SECONDS": "0.5",
    "TRACER_TICK_SECONDS": "0.2",
    "TRACER_ALLOWED_LATENESS_SECONDS": "0",
}


@dataclass
class Member:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def start_member(
    name: str,
    *,
    role: str,
    nats_url: str,
    database_url: str,
    home: Path,
    env: dict[str, str] | None = None,
) -> Member:
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRACER_")},
        "DATABASE_URL": database_url,
        "TRACER_HOME": str(home),
        "TRACER_PROCESSOR_ID": name,
        "TRACER_NATS_URL": nats_url,
        "TRACER_CLUSTER_ROLE": role,
        **CLUSTER_ENV,
        **(env or {}),
    }
    log_path = home / f"{name}.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "tracer", "processor", "--port", str(port)],
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    member = Member(name, f"http://127.0.0.1:{port}", process, log_path)
    wait_until(lambda: _healthy(member.url) or not member.alive(), timeout=60)
    if not member.alive():
        raise RuntimeError(f"{name} exited early:\n{log_path.read_text()}")
    return member


@dataclass
class Fleet:
    """The members of one test's cluster, all stopped (or killed) at the end."""

    nats_url: str
    database_url: str
    home: Path
    members: list[Member]

    def start(self, name: str, role: str, env: dict[str, str] | None = None) -> Member:
        member = start_member(
            name,
            role=role,
            nats_url=self.nats_url,
            database_url=self.database_url,
            home=self.home,
            env=env,
        )
        self.members.append(member)
        return member

    def stop(self) -> None:
        for member in self.members:
            member.stop()
