"""JetStream unavailable: receivers answer 503 with Retry-After and accept nothing they
could lose; once the server is back, the retried logs are all folded in, exactly once."""

from __future__ import annotations

import random

import httpx
import pytest

from tests.processor.cluster import traffic
from tests.processor.cluster.fleet import Fleet
from tests.support import wait_until
from tracer.nats_server import NatsServer

pytestmark = pytest.mark.slow


def test_receivers_refuse_while_nats_is_down_and_lose_nothing(
    database_url: str, fleet: Fleet, nats_server: NatsServer
) -> None:
    records = traffic.history(
        random.Random(7), services=["payments", "search"], minutes=70, incident=(60, 65)
    )
    half = len(records) // 2
    receiver = fleet.start("receiver-1", "receiver")
    fleet.start("processor-1", "processor")
    with httpx.Client(timeout=30) as http:
        accepted = traffic.send(http, [receiver.url], records[:half])
        nats_server.stop()
        refused = http.post(f"{receiver.url}/api/logs", json=records[half : half + 1000])
        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) > 0
        otlp = http.post(
            f"{receiver.url}/v1/logs",
            content=b"{}",
            headers={"content-type": "application/json"},
        )
        assert otlp.status_code in (200, 503)  # an empty export publishes nothing
        nats_server.start()
        accepted += traffic.send(http, [receiver.url], records[half:])
    assert accepted == len(records)
    wait_until(lambda: traffic.folded(database_url) == accepted - 2, timeout=90)
    wait_until(lambda: len(traffic.alerts(database_url)) >= 1, timeout=30)
    fleet.stop()
    assert traffic.folded(database_url) == accepted - 2
    assert [tuple(r) for r in traffic.alerts(database_url)] == [("payments", "error_spike")]
