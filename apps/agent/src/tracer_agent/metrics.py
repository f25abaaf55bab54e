"""The agent's Prometheus metrics, registered on the app's own registry (never the global one,
so several apps in one test process do not collide)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass(frozen=True)
class AgentMetrics:
    deliveries: Counter
    delivery_latency: Histogram
    events_expanded: Counter
    probes: Counter
    chat_requests: Counter

    @classmethod
    def register(cls, registry: CollectorRegistry) -> AgentMetrics:
        return cls(
            deliveries=Counter(
                "tracer_deliveries_total",
                "Delivery tries by toolkit and outcome.",
                ["toolkit", "outcome"],
                registry=registry,
            ),
            delivery_latency=Histogram(
                "tracer_delivery_latency_seconds",
                "From the alert event's commit to the destination's answer.",
                ["toolkit"],
                buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
                registry=registry,
            ),
            events_expanded=Counter(
                "tracer_alert_events_expanded_total",
                "Outbox events turned into deliveries.",
                registry=registry,
            ),
            probes=Counter(
                "tracer_delivery_probes_total",
                "Searches for calls a crashed worker may have made, by result.",
                ["result"],
                registry=registry,
            ),
            chat_requests=Counter(
                "tracer_chat_requests_total",
                "Chat requests by outcome.",
                ["outcome"],
                registry=registry,
            ),
        )
