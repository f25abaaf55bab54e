"""Logs sent through a receiver reach the partition's owner, are folded in exactly once,
and the incident in them becomes exactly one alert."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest

from tests.processor.cluster import traffic
from tests.processor.cluster.fleet import start_member
from tests.support import wait_until
from tracer.nats_server import NatsServer

pytestmark = pytest.mark.slow


def test_logs_through_a_receiver_reach_the_owner_and_alert_once(
    database_url: str, nats_server: NatsServer, tmp_path: Path
) -> None:
    records = traffic.history(
        random.Random(3), services=["payments", "search"], minutes=70, incident=(60, 65)
    )
    common = {"nats_url": nats_server.url, "database_url": database_url, "home": tmp_path}
    receiver = start_member("receiver-1", role="receiver", **common)
    processor = start_member("processor-1", role="processor", **common)
    try:
        with httpx.Client(timeout=30) as http:
            accepted = traffic.send(http, [receiver.url], records)
        assert accepted == len(records)
        wait_until(lambda: traffic.folded(database_url) == accepted - 2, timeout=60)
        wait_until(lambda: len(traffic.alerts(database_url)) >= 1, timeout=30)
    finally:
        processor.stop()
        receiver.stop()
    assert traffic.folded(database_url) == accepted - 2
    assert [tuple(r) for r in traffic.alerts(database_url)] == [("payments", "error_spike")]
