"""The processor's Prometheus metrics, registered on the app's own registry.

Alert counts come from what the store *decided* (the writer's result hook), not from what
the detector proposed, so "opened" means a new alert row, not a detection another replica
had already reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tracer_processor.alerts.reports import AlertCandidate, Decision, Recovery, StoreResult
from tracer_processor.alerts.writer import AlertWriter

_FAST = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class ProcessorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.accepted = Counter(
            "tracer_processor_records_accepted",
            "Log records accepted (valid), by ingest format.",
            ["source"],
            registry=registry,
        )
        self.rejected = Counter(
            "tracer_processor_records_rejected",
            "Log records refused with an error, by ingest format.",
            ["source"],
            registry=registry,
        )
        self.late = Counter(
            "tracer_processor_records_late",
            "Accepted records whose bucket had already closed (counted, not aggregated).",
            registry=registry,
        )
        self.requests = Counter(
            "tracer_processor_ingest_requests",
            "Ingest requests by endpoint and HTTP status.",
            ["endpoint", "status"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "tracer_processor_ingest_request_seconds",
            "Time to decode and aggregate one ingest request.",
            buckets=_FAST,
            registry=registry,
        )
        self.buckets_closed = Counter(
            "tracer_processor_buckets_closed",
            "Service buckets closed and scored.",
            registry=registry,
        )
        self.detection_seconds = Histogram(
            "tracer_processor_detection_seconds",
            "From a bucket closing to its alert decisions handed to the writer.",
            buckets=_FAST,
            registry=registry,
        )
        self.decisions = Counter(
            "tracer_processor_alert_decisions",
            "Alert store decisions: opened, escalated, reopened, resolved, merged, ignored.",
            ["decision"],
            registry=registry,
        )
        for decision in Decision:
            self.decisions.labels(decision.value)
        self.services = Gauge(
            "tracer_processor_services", "Services with state in this processor.", registry=registry
        )
        self.services_evicted = Counter(
            "tracer_processor_services_evicted",
            "Barely seen services forgotten to make room for new ones (quota reached).",
            registry=registry,
        )
        self.services_evicted_for_key = Counter(
            "tracer_processor_services_evicted_for_key_quota",
            "Services forgotten because the ingest key that created them reached "
            "TRACER_MAX_SERVICES_PER_KEY (also counted in services_evicted).",
            registry=registry,
        )
        self.open_alerts = Gauge(
            "tracer_processor_open_alerts",
            "Alerts this processor currently considers open (its local view).",
            registry=registry,
        )

    def count_decision(self, item: AlertCandidate | Recovery, result: StoreResult) -> None:
        self.decisions.labels(result.decision.value).inc()


class WriterCollector(Collector):
    """Exposes the alert writer's own counters at scrape time (nothing on the hot path)."""

    def __init__(self, writer: AlertWriter) -> None:
        self._writer = writer

    def collect(self) -> Iterator[Metric]:
        stats = self._writer.stats()
        buffered = GaugeMetricFamily(
            "tracer_processor_alert_writer_buffered",
            "Alert reports waiting for the database.",
            value=stats.buffered,
        )
        yield buffered
        for name, help_text, value in (
            ("written", "Alert reports the store decided on.", stats.written),
            (
                "dropped",
                "Alert reports lost (buffer full, or failing for too long).",
                stats.dropped,
            ),
            ("rejected", "Alert reports the store refused as malformed.", stats.rejected),
            (
                "repaired",
                "Alert reports refused for their content and stored once repaired.",
                stats.repaired,
            ),
            (
                "unstorable",
                "Alert reports refused even after repair: incidents NOT recorded.",
                stats.unstorable,
            ),
            ("retries", "Alert report attempts repeated after a database failure.", stats.retries),
        ):
            yield CounterMetricFamily(
                f"tracer_processor_alert_writer_{name}", help_text, value=value
            )
