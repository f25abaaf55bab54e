"""Reading request bodies: gzip inflation."""

from __future__ import annotations

import gzip

from tracer_processor.ingest.bodies import _inflate


def test_gzip_helpers_round_trip() -> None:
    assert _inflate(gzip.compress(b"hello"), 100, 31) == b"hello"
