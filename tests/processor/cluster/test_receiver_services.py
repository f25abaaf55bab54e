"""`GET /api/services` on a receiver, which holds no detector state: the services as of
their newest checkpoints in PostgreSQL, in the processor's shape, paged the same way."""

from __future__ import annotations

import random
from datetime import datetime

import httpx
import pytest

from tests.processor.cluster import traffic
from tests.processor.cluster.fleet import Fleet
from tests.support import wait_until

pytestmark = pytest.mark.slow
SERVICES = ["auth", "payments", "search"]


def test_a_receiver_lists_the_services_as_of_their_checkpoints(
    database_url: str, fleet: Fleet
) -> None:
    records = traffic.history(random.Random(9), services=SERVICES, minutes=10, incident=None)
    receiver = fleet.start("receiver-1", "receiver")
    processor = fleet.start("processor-1", "processor")
    with httpx.Client(timeout=30) as http:
        assert http.get(f"{receiver.url}/api/services").json() == []
        accepted = traffic.send(http, [receiver.url], records)
        wait_until(lambda: traffic.folded(database_url) == accepted - len(SERVICES), timeout=60)
        listed = http.get(f"{receiver.url}/api/services").json()
        live = {row["service"]: row for row in http.get(f"{processor.url}/api/services").json()}
        pages: list[str] = []
        cursor = ""
        for _ in range(4):
            page = http.get(f"{receiver.url}/api/services", params={"limit": 2, "cursor": cursor})
            pages += [row["service"] for row in page.json()]
            cursor = page.headers.get("x-next-cursor", "")
            if not cursor:
                break
        one = http.get(f"{receiver.url}/api/services", params={"service": "search"}).json()
        bad = http.get(f"{receiver.url}/api/services", params={"cursor": "nope"})
    assert [row["service"] for row in listed] == SERVICES
    assert pages == SERVICES
    assert [row["service"] for row in one] == ["search"]
    assert bad.status_code == 400
    for row in listed:
        assert row.keys() == live[row["service"]].keys() | {"as_of"}
        assert row["live"] is False
        datetime.fromisoformat(row["as_of"])
        assert row["buckets_scored"] == 10 * 6  # every bucket of the history, checkpointed
        assert row["last_bucket"] == live[row["service"]]["last_bucket"]
        assert row["baselines"] == live[row["service"]]["baselines"]
