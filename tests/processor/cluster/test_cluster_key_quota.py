"""The per-key service quota holds in clustered mode: the receiver puts the ingest key's id
in the batch message, and the partition's owner counts new services against it as a
single process does, so one key cannot fill the processor with services."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest

from tests.processor.cluster import traffic
from tests.processor.cluster.fleet import Fleet
from tests.support import wait_until

pytestmark = pytest.mark.slow
KEYS = {"flood": "trc_flood001_aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "other": "trc_other001_bbbbbbbbbbbbbbbbbbbbbbbbbbbb"}  # fmt: skip


def _add_keys(database_url: str) -> None:
    for name, key in KEYS.items():
        traffic.rows(
            database_url,
            "INSERT INTO api_keys (name, role, prefix, key_hash) VALUES "
            f"('{name}', 'ingest', '{key.split('_')[1]}', "
            f"'{hashlib.sha256(key.encode()).hexdigest()}') RETURNING id",
        )


def _records(services: list[str]) -> list[dict[str, object]]:
    now = time.time()
    return [
        {
            "timestamp": int((now - 1) * 1000),
            "service": s,
            "project": "shop",
            "level": "info",
            "message": "ok",
        }
        for s in services
        for _ in range(3)
    ]


def test_a_keys_new_services_beyond_its_quota_are_refused_by_the_owner(
    database_url: str, fleet: Fleet
) -> None:
    _add_keys(database_url)
    receiver = fleet.start("receiver-1", "receiver", {"TRACER_REQUIRE_INGEST_KEY": "true"})
    processor = fleet.start("processor-1", "processor", {"TRACER_MAX_SERVICES_PER_KEY": "2"})
    flood = [f"junk-{i}" for i in range(6)]
    with httpx.Client(timeout=30) as http:
        for name, services in (("flood", flood), ("other", ["checkout"])):
            answer = http.post(
                f"{receiver.url}/api/logs",
                json=_records(services),
                headers={"authorization": f"Bearer {KEYS[name]}"},
            )
            assert answer.status_code == 202, answer.text
            assert answer.json()["accepted"] == 3 * len(services)

        def tracked_services() -> set[str]:
            listed = http.get(f"{processor.url}/api/services", timeout=10).json()
            return {row["service"] for row in listed}

        # The other key's request was published after the flood: once its service is
        # there, the flood has been folded in too (one owner, stream order).
        wait_until(lambda: "checkout" in tracked_services(), timeout=60)
        tracked = tracked_services()
        metrics = http.get(f"{processor.url}/metrics").text
    assert "checkout" in tracked
    assert len(tracked - {"checkout"}) == 2
    assert tracked - {"checkout"} <= set(flood)
    # Refused, or (when the flood came in over several fetches) let in in place of the
    # key's own earlier services: either way never beyond the key's quota.
    refused = _sample(metrics, 'tracer_processor_records_rejected_total{source="stream"}')
    evicted = _sample(metrics, "tracer_processor_services_evicted_for_key_quota_total")
    assert refused + evicted > 0


def _sample(metrics: str, name: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0
