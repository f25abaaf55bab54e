"""Prometheus metrics of clustered mode (on the processor's own registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ClusterMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.publish_seconds = Histogram(
            "tracer_cluster_publish_seconds",
            "From a request's records handed to JetStream to the last publish acknowledged.",
            buckets=_LATENCY,
            registry=registry,
        )
        self.publish_failures = Counter(
            "tracer_cluster_publish_failures",
            "Requests answered 503 because JetStream did not acknowledge their records.",
            registry=registry,
        )
        self.messages_published = Counter(
            "tracer_cluster_messages_published",
            "Batch messages acknowledged by JetStream.",
            registry=registry,
        )
        self.duplicates_dropped = Counter(
            "tracer_cluster_publish_duplicates",
            "Batch messages JetStream already held from an earlier attempt at the same request "
            "(a retry), acknowledged and not stored again.",
            registry=registry,
        )
        self.partitions_owned = Gauge(
            "tracer_cluster_partitions_owned",
            "Partitions whose lease this processor holds.",
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "tracer_cluster_consumer_lag_seconds",
            "Per owned partition: receiver accept time of the newest message folded in, "
            "behind now.",
            ["partition"],
            registry=registry,
        )
        self.consumer_pending = Gauge(
            "tracer_cluster_consumer_pending_messages",
            "Messages of the owned partitions not yet delivered to this processor.",
            registry=registry,
        )
        self.redeliveries = Counter(
            "tracer_cluster_redeliveries",
            "Messages delivered again and skipped because they were already folded in.",
            registry=registry,
        )
        self.messages_folded = Counter(
            "tracer_cluster_messages_folded",
            "Batch messages folded into the buckets.",
            registry=registry,
        )
        self.fold_lag_seconds = Histogram(
            "tracer_cluster_accept_to_fold_seconds",
            "From the receiver accepting a request to its records folded into the buckets.",
            buckets=_LATENCY,
            registry=registry,
        )
        self.takeovers = Counter(
            "tracer_cluster_partition_acquisitions",
            "Partition leases acquired (at start, on rebalance, or from a dead owner).",
            registry=registry,
        )
        self.releases = Counter(
            "tracer_cluster_partition_releases",
            "Partition leases handed back or lost.",
            ["reason"],
            registry=registry,
        )
