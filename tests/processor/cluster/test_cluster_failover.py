"""Processors dying, joining and leaving under load: every accepted record is folded in
exactly once (the sum folded equals the count accepted), partitions move within the lease
time, baselines are restored rather than relearned, and each incident alerts exactly once."""

from __future__ import annotations

import random
import threading
import time

import httpx
import pytest

from tests.processor.cluster import traffic
from tests.processor.cluster.fleet import Fleet
from tests.support import wait_until
from tracer_processor.cluster.partitioning import partition_of

pytestmark = pytest.mark.slow
LEASE_SECONDS = 3.0  # fleet.CLUSTER_ENV


class Sender(threading.Thread):
    """Sends the records through the receivers in the background (retrying 503s)."""

    def __init__(self, urls: list[str], records: list[dict[str, object]]) -> None:
        super().__init__(daemon=True)
        self.urls, self.records = urls, records
        self.accepted = 0
        self.sent = 0

    def run(self) -> None:
        with httpx.Client(timeout=30) as http:
            for first in range(0, len(self.records), 1000):
                chunk = self.records[first : first + 1000]
                url = self.urls[(first // 1000) % len(self.urls)]
                self.accepted += traffic.post_until_accepted(http, url, chunk)
                self.sent = first + len(chunk)


def _owner_of(database_url: str, partition: int) -> str | None:
    found = traffic.rows(
        database_url, f"SELECT owner FROM partition_leases WHERE partition = {partition}"
    )
    return None if not found else found[0]["owner"]


def _owners(database_url: str) -> set[str | None]:
    return {r["owner"] for r in traffic.rows(database_url, "SELECT owner FROM partition_leases")}


def _history() -> list[dict[str, object]]:
    return traffic.history(
        random.Random(11), services=["payments", "search", "auth"], minutes=70, incident=(60, 65)
    )


def test_a_killed_processor_loses_nothing_and_its_partitions_move(
    database_url: str, fleet: Fleet
) -> None:
    records = _history()
    receivers = [fleet.start("receiver-1", "receiver"), fleet.start("receiver-2", "receiver")]
    first = fleet.start("processor-1", "processor")
    second = fleet.start("processor-2", "processor")
    wait_until(lambda: _owners(database_url) == {first.name, second.name}, timeout=30)
    payments = partition_of("shop", "payments", 8)
    victim = first if _owner_of(database_url, payments) == first.name else second
    survivor = second if victim is first else first
    sender = Sender([r.url for r in receivers], records)
    sender.start()
    # Mid-stream: the victim has checkpointed part of the history and holds more in memory.
    wait_until(lambda: sender.sent > len(records) // 3, timeout=60)
    victim.kill()
    killed_at = time.monotonic()
    wait_until(lambda: _owners(database_url) == {survivor.name}, timeout=30)
    takeover = time.monotonic() - killed_at
    sender.join(timeout=120)
    assert not sender.is_alive()
    assert sender.accepted == len(records)
    wait_until(lambda: traffic.folded(database_url) >= sender.accepted - 3, timeout=60)
    wait_until(lambda: len(traffic.alerts(database_url)) >= 1, timeout=30)
    services = httpx.get(f"{survivor.url}/api/services", timeout=10).json()
    scored = {s["service"]: s["buckets_scored"] for s in services}
    fleet.stop()
    assert takeover < 3 * LEASE_SECONDS
    assert traffic.folded(database_url) == sender.accepted - 3
    assert [tuple(r) for r in traffic.alerts(database_url)] == [("payments", "error_spike")]
    # The survivor continued the victim's baselines: every bucket of the history scored.
    assert scored["payments"] == 70 * 6


def test_processors_joining_and_leaving_rebalance_and_alert_once(
    database_url: str, fleet: Fleet
) -> None:
    records = _history()
    receiver = fleet.start("receiver-1", "receiver")
    first = fleet.start("processor-1", "processor")
    sender = Sender([receiver.url], records)
    sender.start()
    wait_until(lambda: traffic.folded(database_url) > len(records) // 4, timeout=60)
    second = fleet.start("processor-2", "processor")  # joins: takes half the partitions
    wait_until(lambda: _owners(database_url) == {first.name, second.name}, timeout=30)
    wait_until(lambda: sender.sent > len(records) // 2, timeout=60)
    first.stop()  # leaves: hands its partitions back, the other takes them all
    wait_until(lambda: _owners(database_url) == {second.name}, timeout=30)
    sender.join(timeout=120)
    assert sender.accepted == len(records)
    wait_until(lambda: traffic.folded(database_url) >= sender.accepted - 3, timeout=60)
    wait_until(lambda: len(traffic.alerts(database_url)) >= 1, timeout=30)
    fleet.stop()
    assert traffic.folded(database_url) == sender.accepted - 3
    assert [tuple(r) for r in traffic.alerts(database_url)] == [("payments", "error_spike")], (
        "\n".join(
            str(
                {
                    k: r[k]
                    for k in ("service", "alert_type", "window_start", "window_end", "details")
                }
            )
            for r in traffic.alert_details(database_url)
        )
    )
