"""Logs sent through receivers reach the partition's owner, are folded in exactly once,
and the incident in them becomes exactly one alert; one service's stream spread over two
receivers (as a load balancer spreads it) still makes one baseline and no `service_down`."""

from __future__ import annotations

import random

import httpx
import pytest

from tests.processor.cluster import traffic
from tests.processor.cluster.fleet import Fleet
from tests.support import wait_until

pytestmark = pytest.mark.slow


def test_logs_through_a_receiver_reach_the_owner_and_alert_once(
    database_url: str, fleet: Fleet
) -> None:
    records = traffic.history(
        random.Random(3), services=["payments", "search"], minutes=70, incident=(60, 65)
    )
    receivers = [fleet.start("receiver-1", "receiver"), fleet.start("receiver-2", "receiver")]
    processor = fleet.start("processor-1", "processor")
    with httpx.Client(timeout=30) as http:
        accepted = traffic.send(http, [r.url for r in receivers], records)
    assert accepted == len(records)
    wait_until(lambda: traffic.folded(database_url) == accepted - 2, timeout=60)
    wait_until(lambda: len(traffic.alerts(database_url)) >= 1, timeout=30)
    services = httpx.get(f"{processor.url}/api/services", timeout=10).json()
    assert {s["service"]: s["buckets_scored"] for s in services} == {
        "payments": 70 * 6,
        "search": 70 * 6,
    }
    fleet.stop()  # handing the partitions back checkpoints them once more
    assert traffic.folded(database_url) == accepted - 2
    assert [tuple(r) for r in traffic.alerts(database_url)] == [("payments", "error_spike")]
