"""`tracer up`: the database, the processor replicas and the agent, until Ctrl-C.

Each app runs in its own process (as in production); this process owns the embedded
PostgreSQL, so it is the last to stop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from tracer.commands.errors import print_error, user_errors
from tracer.commands.options import DatabaseUrlOption
from tracer.nats_server import NatsServer
from tracer_core.embedded import resolve_database_url
from tracer_core.migrate import migrate
from tracer_core.settings import BaseTracerSettings, load_settings
from tracer_core.startup_errors import bind_listener

console = Console()


@dataclass
class Child:
    name: str
    url: str
    process: subprocess.Popen[bytes]


def spawn(
    role: str,
    name: str,
    host: str,
    port: int,
    database_url: str,
    extra_env: dict[str, str] | None = None,
) -> Child:
    command = [sys.executable, "-m", "tracer", role, "--host", host, "--port", str(port)]
    env = {**os.environ, "DATABASE_URL": database_url, **(extra_env or {})}
    if role == "processor":
        env.setdefault("TRACER_PROCESSOR_ID", name)
    process = subprocess.Popen(command, env=env)
    return Child(name=name, url=f"http://{host}:{port}", process=process)


class StopRequestedError(Exception):
    """Ctrl-C or SIGTERM arrived while waiting."""


def wait_healthy(
    children: list[Child],
    timeout: float = 60.0,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    deadline = time.monotonic() + timeout
    pending = list(children)
    while pending:
        if should_stop():
            raise StopRequestedError
        for child in list(pending):
            if child.process.poll() is not None:
                raise RuntimeError(f"{child.name} exited with code {child.process.returncode}")
            try:
                if httpx.get(f"{child.url}/healthz", timeout=1.0).status_code == 200:
                    pending.remove(child)
            except httpx.HTTPError:
                pass
        if pending and time.monotonic() > deadline:
            names = ", ".join(c.name for c in pending)
            raise RuntimeError(f"{names} did not become healthy within {timeout:.0f} s")
        if pending:
            time.sleep(0.2)


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ignore SIGINT while shutting down: under `uv run` one Ctrl-C arrives twice (from the
    terminal and forwarded by uv), and the second must not cut a clean shutdown short.
    Signal handlers belong to the main thread; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def stop_all(children: list[Child], grace: float = 10.0) -> None:
    with interrupts_deferred():
        _stop_all(children, grace)


def _stop_all(children: list[Child], grace: float) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        remaining = max(deadline - time.monotonic(), 0.1)
        try:
            child.process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()


def cluster_members(
    host: str, first_port: int, database_url: str, nats_url: str, receivers: int, processors: int
) -> list[Child]:
    """Receivers on the first ports (send logs to any of them), then partition owners."""
    members: list[Child] = []
    roles = [("receiver", receivers), ("processor", processors)]
    port = first_port
    for role, count in roles:
        for index in range(count):
            name = f"{role}-{index + 1}"
            env = {"TRACER_NATS_URL": nats_url, "TRACER_CLUSTER_ROLE": role,
                   "TRACER_PROCESSOR_ID": name}  # fmt: skip
            members.append(spawn("processor", name, host, port, database_url, env))
            port += 1
    return members


def up(
    database_url: DatabaseUrlOption = None,
    host: Annotated[str, typer.Option(help="Address the apps listen on.")] = "127.0.0.1",
    processor_port: Annotated[int, typer.Option(help="First processor's port.")] = 4318,
    agent_port: Annotated[int, typer.Option(help="Agent's port.")] = 8000,
    replicas: Annotated[int, typer.Option(min=1, max=16, help="Processor replicas.")] = 1,
    cluster: Annotated[
        bool,
        typer.Option(
            help="Clustered mode: a NATS JetStream server, receivers and partition owners."
        ),
    ] = False,
    receivers: Annotated[
        int, typer.Option(min=1, max=16, help="Receivers (--cluster): stateless ingest.")
    ] = 2,
    processors: Annotated[
        int, typer.Option(min=1, max=16, help="Processors (--cluster): own partitions.")
    ] = 2,
    nats_port: Annotated[
        int, typer.Option(help="Port of the local NATS server (--cluster, TRACER_NATS_URL unset).")
    ] = 4222,
) -> None:
    """Run Tracer: PostgreSQL (embedded unless DATABASE_URL is set), processors and the agent.

    With --cluster: a local NATS server with JetStream (unless TRACER_NATS_URL names one),
    receivers from the first processor port on, then the processors that own partitions."""
    with user_errors():
        # Busy ports stop `up` before it starts anything; and another program answering
        # /healthz on a taken port can never pass for a child that failed.
        ports = [processor_port + index for index in range(replicas)] + [agent_port]
        for port in ports:
            bind_listener(host, port, variable="--processor-port / --agent-port").close()
        settings = load_settings(BaseTracerSettings, database_url=database_url)
        url, embedded = resolve_database_url(settings.database_url, settings.home)
    children: list[Child] = []
    nats: NatsServer | None = None
    # Signals only set a flag: under `uv run` one Ctrl-C arrives twice (from the terminal
    # and forwarded by uv), and neither may interrupt the clean shutdown.
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop_requested.set()

    previous_term = signal.signal(signal.SIGTERM, request_stop)
    previous_int = signal.signal(signal.SIGINT, request_stop)
    try:
        with user_errors():
            asyncio.run(migrate(url))
        if cluster:
            nats_url = os.environ.get("TRACER_NATS_URL")
            if not nats_url:
                nats = NatsServer(settings.home / "nats", port=nats_port)
                nats.start()
                nats_url = nats.url
            children.extend(
                cluster_members(host, processor_port, url, nats_url, receivers, processors)
            )
        else:
            for index in range(replicas):
                name = f"processor-{index + 1}"
                children.append(spawn("processor", name, host, processor_port + index, url))
        children.append(spawn("agent", "agent", host, agent_port, url))
        wait_healthy(children, should_stop=stop_requested.is_set)
        failed = [c for c in children if c.process.poll() is not None]
        if failed:
            raise RuntimeError(f"{failed[0].name} exited with code {failed[0].process.returncode}")
        table = Table(title="Tracer is up", show_header=True)
        table.add_column("part")
        table.add_column("address")
        for child in children:
            table.add_row(child.name, child.url)
        table.add_row("database", "embedded PostgreSQL" if embedded else "DATABASE_URL")
        if cluster:
            table.add_row("log stream", nats.url if nats else "TRACER_NATS_URL")
        console.print(table)
        console.print("Press Ctrl-C to stop.")
        while not stop_requested.wait(0.25):
            for child in children:
                if child.process.poll() is not None:
                    raise RuntimeError(f"{child.name} exited with code {child.process.returncode}")
    except StopRequestedError:
        pass
    except RuntimeError as exc:
        print_error(str(exc))
        raise typer.Exit(1) from None
    finally:
        console.print("stopping…")
        stop_all(children)
        if nats is not None:
            nats.stop()
        if embedded is not None:
            embedded.stop()
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)
    console.print("stopped")
