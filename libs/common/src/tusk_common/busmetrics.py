"""Prometheus metrics of the bus: RPCs served, events published and consumed (on a registry passed in)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class BusMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rpc_served = Counter(
            "tusk_rpc_requests_total", "RPC requests answered", ["service", "method", "code"], registry=registry
        )
        self.rpc_seconds = Histogram(
            "tusk_rpc_request_seconds", "Time to answer an RPC", ["service", "method"],
            buckets=_LATENCY_BUCKETS, registry=registry,
        )
        self.published = Counter(
            "tusk_events_published_total", "Messages published to JetStream", ["subject"], registry=registry
        )
        self.consumed = Counter(
            "tusk_events_consumed_total", "Events handled by a durable consumer", ["consumer", "outcome"],
            registry=registry,
        )
