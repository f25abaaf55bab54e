"""The real OpenTelemetry SDK's OTLP/HTTP log exporter sends to a running processor."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from tests.processor.server import metric_value, running_processor
from tests.support import wait_until


def test_sdk_exporter_logs_are_accepted_and_counted(database_url: str, tmp_path: Path) -> None:
    with running_processor(database_url, tmp_path) as url:
        for compression in (Compression.NoCompression, Compression.Gzip):
            provider = LoggerProvider(
                resource=Resource.create({"service.name": f"otel-{compression.value}"}),
                shutdown_on_exit=False,
            )
            exporter = OTLPLogExporter(endpoint=f"{url}/v1/logs", compression=compression)
            provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
            logger = provider.get_logger("checkout")
            for i in range(50):
                failed = i % 10 == 0
                logger.emit(
                    timestamp=time.time_ns(),
                    severity_number=SeverityNumber.ERROR if failed else SeverityNumber.INFO,
                    severity_text="ERROR" if failed else "INFO",
                    body=f"order {i} {'failed' if failed else 'ok'}",
                    attributes={"duration_ms": 10.0 + i},
                )
            assert provider.force_flush(10_000)
            provider.shutdown()

        accepted = 'tracer_processor_records_accepted_total{source="otlp"}'
        wait_until(lambda: metric_value(url, accepted) == 100, timeout=10)
        assert metric_value(url, 'tracer_processor_records_rejected_total{source="otlp"}') == 0
        services = httpx.get(f"{url}/api/services", timeout=5).json()
        assert {row["service"] for row in services} == {"otel-none", "otel-gzip"}
        assert all(row["live"] for row in services)
