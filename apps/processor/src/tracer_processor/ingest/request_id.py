"""The identity of an ingest request, the same on every retry of it (clustered mode).

A receiver that could not publish all of a request answers 503, and the client sends the
same request again, maybe to another receiver. The batch messages of both attempts carry
ids derived from this identity (`cluster/publisher.py`), so JetStream keeps one copy of
each. The identity is the client's `Idempotency-Key` header when it sends one, else a hash
of the body bytes as received and of the decoded event times; both are scoped by the
ingest key, the endpoint and the content type, so two senders' identical bodies stay two
requests. Records without a timestamp are stamped with the receiver's clock, so a body of
such records sent again is a new request (repeated heartbeats are not dropped), while a body
whose records all carry their times, sent again within the duplicate window, is a retry.
"""

from __future__ import annotations

import hashlib

IDEMPOTENCY_HEADER = "idempotency-key"


def request_id(
    body: bytes,
    *,
    sender: str | None,
    endpoint: str,
    media_type: str,
    idempotency_key: str | None,
    event_times: bytes,
) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for part in (sender or "", endpoint, media_type):
        digest.update(part.encode())
        digest.update(b"\x00")
    if idempotency_key:
        digest.update(b"key\x00")
        digest.update(idempotency_key.encode("utf-8", "replace"))
    else:
        digest.update(b"body\x00")
        digest.update(body)
        digest.update(event_times)
    return digest.hexdigest()
