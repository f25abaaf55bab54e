"""How much one very large ingest body delays everybody else's small requests.

A processor (its own scratch database, one uvicorn process) receives a ~16 MB body on one
connection while another connection sends small JSON batches back to back; the latencies of
the small requests made while the large one was in flight are reported (p50/p99/max), for
each body format, with very large bodies decoded in a process (the default) or in a thread
(`--thread`, the previous behaviour). A script, not a test: figures depend on the machine.

    python -m tracer.benchmarks.decode_stall postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import sys
import threading
import time

import httpx
import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from tracer.benchmarks.stats import quantile
from tracer.scratch import scratch_database

TARGET_BYTES = 16 * 1024 * 1024 - 64 * 1024  # just under TRACER_MAX_BODY_BYTES


def _serve(database_url: str, port: int, thread_only: bool) -> None:
    import uvicorn

    from tracer_processor.app import create_app
    from tracer_processor.ingest.decode_pool import DecodePool
    from tracer_processor.settings import ProcessorSettings

    app = create_app(ProcessorSettings(database_url=database_url, checkpoint_seconds=0))
    if thread_only:
        app.state.decoders = DecodePool(process_bytes=sys.maxsize)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _otlp_json(now: float) -> bytes:
    record = {"timeUnixNano": str(int(now * 1e9)), "severityNumber": 9,
              "body": {"stringValue": "x" * 200}}  # fmt: skip
    count = TARGET_BYTES // len(orjson.dumps(record))
    service = {"key": "service.name", "value": {"stringValue": "big"}}
    return orjson.dumps(
        {"resourceLogs": [{"resource": {"attributes": [service]},
                           "scopeLogs": [{"logRecords": [record] * count}]}]}
    )  # fmt: skip


def _bodies(now: float) -> dict[str, tuple[str, str, bytes]]:
    otlp = _otlp_json(now)
    message = ExportLogsServiceRequest()
    json_format.Parse(otlp, message)
    proto = bytes(message.SerializeToString())
    while len(proto) < TARGET_BYTES - 300:  # grow to the same size with more records
        more = message.resource_logs[0].scope_logs[0].log_records
        more.extend(list(more)[: max(1, (TARGET_BYTES - len(proto)) // 300)])
        proto = bytes(message.SerializeToString())
    stamp = int(now * 1000)
    line = orjson.dumps({"timestamp": stamp, "service": "big", "level": "info",
                         "message": "x" * 200})  # fmt: skip
    array = b"[" + b",".join([line] * (TARGET_BYTES // (len(line) + 1))) + b"]"
    return {
        "OTLP/JSON": ("/v1/logs", "application/json", otlp),
        "OTLP/protobuf": ("/v1/logs", "application/x-protobuf", proto),
        "JSON array": ("/api/logs", "application/json", array),
    }


def _measure(base: str, path: str, media: str, body: bytes) -> tuple[list[float], float]:
    small = orjson.dumps([{"timestamp": int(time.time() * 1000), "service": "small",
                           "level": "info", "message": "m"}])  # fmt: skip
    window: list[float] = []
    done = threading.Event()
    big_seconds = [0.0]

    def send_big() -> None:
        with httpx.Client(timeout=120) as client:
            started = time.perf_counter()
            response = client.post(base + path, content=body, headers={"content-type": media})
            big_seconds[0] = time.perf_counter() - started
            if response.status_code >= 300:
                print("large body answered", response.status_code, response.text[:200])
        done.set()

    with httpx.Client(timeout=120) as client:
        for _ in range(50):  # warm the connection and the server
            client.post(base + "/api/logs", content=small,
                        headers={"content-type": "application/json"})  # fmt: skip
        sender = threading.Thread(target=send_big)
        sender.start()
        while not done.is_set():
            started = time.perf_counter()
            client.post(base + "/api/logs", content=small,
                        headers={"content-type": "application/json"})  # fmt: skip
            if not done.is_set():
                window.append(time.perf_counter() - started)
            time.sleep(0.002)
        sender.join()
    return window, big_seconds[0]


def _wait_up(port: int) -> None:
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the processor did not start")


async def _run(server_url: str, thread_only: bool) -> None:
    async with scratch_database(server_url, "tracer_decode_stall") as database_url:
        await asyncio.to_thread(_run_on, database_url, thread_only)


def _run_on(database_url: str, thread_only: bool) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    context = multiprocessing.get_context("spawn")
    server = context.Process(target=_serve, args=(database_url, port, thread_only))
    server.start()
    try:
        _wait_up(port)
        base = f"http://127.0.0.1:{port}"
        mode = "thread" if thread_only else "process"
        for name, (path, media, body) in _bodies(time.time()).items():
            for attempt in ("first", "second"):
                window, big = _measure(base, path, media, body)
                ms = [value * 1e3 for value in window]
                print(
                    f"{mode:7} {name:13} {len(body) / 1e6:5.1f} MB ({attempt}): large request "
                    f"{big:5.2f} s; {len(ms):4} small requests during it: "
                    f"p50 {quantile(ms, 0.5):6.1f} ms, p99 {quantile(ms, 0.99):6.1f} ms, "
                    f"max {max(ms, default=0.0):6.1f} ms"
                )
    finally:
        server.terminate()
        server.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("server_url", help="a PostgreSQL server URL (a scratch database is made)")
    parser.add_argument("--thread", action="store_true", help="decode large bodies in a thread")
    options = parser.parse_args()
    asyncio.run(_run(options.server_url, options.thread))


if __name__ == "__main__":
    main()
