"""Reading an ingest request body within a size limit, gzip included.

The limit applies to what the body *becomes*: a declared Content-Length over it is refused
before reading, a stream that grows past it is cut off, and a gzip body is inflated at most
to the limit (a small "zip bomb" cannot make the processor allocate gigabytes).
"""

from __future__ import annotations

import zlib

from starlette.requests import Request


class BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def read_body(request: Request, *, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BodyError(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise BodyError(413, f"the body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyError(413, f"the body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return _inflate(body, limit, zlib.MAX_WBITS | 16)
    if encoding == "deflate":
        return _inflate(body, limit, zlib.MAX_WBITS)
    raise BodyError(415, "unsupported Content-Encoding; use gzip, deflate or none")


def _inflate(body: bytes, limit: int, wbits: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BodyError(400, f"the compressed body is corrupt: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyError(413, f"the body inflates to more than the limit of {limit} bytes")
    if not inflater.eof:
        raise BodyError(400, "the compressed body is truncated")
    return out
