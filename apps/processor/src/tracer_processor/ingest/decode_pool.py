"""Where a request body is decoded, by size, so that no body stalls the event loop.

Small bodies decode inline (cheaper than any hop). Medium ones decode in a worker thread.
Very large ones decode in a separate process: a thread still competes for the GIL (a 16 MB
OTLP/JSON decode in a thread held small requests up to 112 ms), a process does not. The
process is one worker, started on the first very large body (spawn: nothing of the
server's state is inherited) and shut down with the app. Its answer is a `LogBatch` made
`portable`: numeric columns, names shared, and only the error rows' messages packed into one
string, so sending it back costs a few copies, not one object per record.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from tracer_processor.ingest.batch import LogBatch, portable

log = logging.getLogger(__name__)

THREAD_BYTES = 256 * 1024
PROCESS_BYTES = 4 * 1024 * 1024


class DecoderUnavailableError(Exception):
    """The decoding process died (answered 503: the sender retries)."""


def _decode_portably(
    decode: Callable[..., LogBatch], body: bytes, kwargs: dict[str, Any]
) -> LogBatch:
    return portable(decode(body, **kwargs))


class DecodePool:
    def __init__(self, *, thread_bytes: int = THREAD_BYTES, process_bytes: int = PROCESS_BYTES):
        self.thread_bytes = thread_bytes
        self.process_bytes = process_bytes
        self._executor: ProcessPoolExecutor | None = None

    async def decode(self, decode: Callable[..., LogBatch], body: bytes, **kwargs: Any) -> LogBatch:
        """`decode(body, **kwargs)`; `decode` must be a module-level function (it is sent to
        the decoding process by name) and raise only picklable exceptions."""
        if len(body) <= self.thread_bytes:
            return decode(body, **kwargs)
        # A daemonic process (an embedding test or tool) may not start children: threads only.
        if len(body) <= self.process_bytes or multiprocessing.current_process().daemon:
            return await asyncio.to_thread(decode, body, **kwargs)
        executor = self._ensure()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, _decode_portably, decode, body, kwargs)
        except BrokenProcessPool:
            log.warning("the decoding process died; starting a new one for the next body")
            self._discard(executor)
            raise DecoderUnavailableError("the decoder restarted; retry the request") from None

    def _ensure(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            )
        return self._executor

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        if self._executor is executor:
            self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
