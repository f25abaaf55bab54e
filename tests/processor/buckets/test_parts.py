"""Small parts of the bucket stage: the latency histogram, message templates and the service
registry."""

from __future__ import annotations

import numpy as np
import pytest

from tracer_processor.buckets.histogram import BINS, bin_index, quantile
from tracer_processor.buckets.registry import ServiceRegistry, rows_of
from tracer_processor.buckets.templates import MAX_SAMPLED, ErrorSamples, template_of


def test_histogram_p95_is_within_ten_percent() -> None:
    rng = np.random.default_rng(2)
    for median in (0.3, 4.0, 80.0, 2500.0, 90_000.0):
        samples = rng.lognormal(np.log(median), 0.5, 20_000)
        hist = np.bincount(bin_index(samples), minlength=BINS).astype(np.uint32)[None, :]
        p95, count = quantile(hist, 0.95)
        assert count[0] == 20_000
        assert p95[0] == pytest.approx(np.percentile(samples, 95), rel=0.10)
    empty, count = quantile(np.zeros((1, BINS), np.uint32), 0.95)
    assert (empty[0], count[0]) == (0.0, 0)
    extremes = bin_index(np.array([0.0, 1e-9, 1e12]))
    assert extremes.tolist() == [0, 0, BINS - 1]


def test_templates_mask_what_varies() -> None:
    first = template_of(
        "timeout after 3012 ms calling 10.0.3.7:8443 for order 8f14e45f-ceea-467f-a0e6-0123456789ab"
    )
    second = template_of(
        "timeout after 12 ms calling 10.9.3.1:443 for order 00000000-ceea-467f-a0e6-0123456789ab"
    )
    assert first == second == "timeout after <n> ms calling <ip> for order <uuid>"
    assert template_of("tx 0x1f3a9 and deadbeef42 failed") == "tx <hex> and <hex> failed"
    assert template_of("user   bob\tlogged  out") == "user bob logged out"
    assert len(template_of("x" * 100_000)) <= 300


def test_error_samples_are_bounded_and_grouped() -> None:
    samples = ErrorSamples()
    for i in range(MAX_SAMPLED * 3):
        samples.add(f"db timeout after {i} ms" if i % 3 else f"disk {i} full")
    assert samples.full
    assert samples.sampled == MAX_SAMPLED
    top = samples.top()
    assert top[0]["template"] == "db timeout after <n> ms"
    assert top[0]["count"] == MAX_SAMPLED * 2 // 3
    assert top[1]["template"] == "disk <n> full"
    assert top[0]["example"].startswith("db timeout after ")


def test_registry_caps_services_and_reuses_slots() -> None:
    registry = ServiceRegistry(max_services=3)
    slots, created, refused = registry.lookup(["p", "p", "q", "p"], ["a", "b", "a", "c"])
    assert slots[:3].tolist() == [0, 1, 2]
    assert created == [0, 1, 2]
    assert refused == [3]
    again, created, refused = registry.lookup(["p", "p"], ["b", "a"])
    assert (again.tolist(), created, refused) == ([1, 0], [], [])
    registry.remove(1)
    slots, created, _ = registry.lookup(["r"], ["z"])
    assert (slots.tolist(), created) == ([1], [1])
    assert registry.key(1) == ("r", "z")
    assert len(registry) == 3


def test_rows_of_uses_a_slice_only_for_one_contiguous_run() -> None:
    assert rows_of(np.array([3, 4, 5])) == slice(3, 6)
    assert isinstance(rows_of(np.array([3, 5])), np.ndarray)
