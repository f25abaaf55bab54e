"""The identity a clustered receiver gives a request: the same for a resend of the same
request, different for another body, another key, or records stamped at arrival."""

from __future__ import annotations

import numpy as np

from tracer_processor.ingest.request_id import request_id

BODY = b'[{"service": "api", "message": "ok"}]'
TIMES = np.array([1_780_000_000.25]).tobytes()


def _id(body: bytes = BODY, *, sender: str | None = "k1", key: str | None = None,
        times: bytes = TIMES, endpoint: str = "/api/logs") -> str:  # fmt: skip
    return request_id(body, sender=sender, endpoint=endpoint, media_type="application/json",
                      idempotency_key=key, event_times=times)  # fmt: skip


def test_a_resend_of_the_same_request_has_the_same_identity() -> None:
    assert _id() == _id()
    assert _id(key="order-7") == _id(b"[]", key="order-7", times=b"")


def test_other_bodies_keys_endpoints_and_arrival_stamps_are_other_requests() -> None:
    assert _id() != _id(BODY + b" ")
    assert _id() != _id(sender="k2")
    assert _id() != _id(sender=None)
    assert _id() != _id(endpoint="/v1/logs")
    assert _id(key="a") != _id(key="b")
    # A body of records without timestamps, sent again a moment later, is stamped later.
    assert _id() != _id(times=np.array([1_780_000_000.5]).tobytes())
