"""Prometheus metrics of one running gateway, served at `/metrics`.

Each runtime has its own registry, so two gateways in one process (tests) never share
counts. Label children are looked up once per label set and kept: the request
counter and histogram are on every request's path.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "open311_http_requests",
            "HTTP requests answered, by route, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self._latency = Histogram(
            "open311_http_request_duration_seconds",
            "Time from receiving a request to its answer, by route.",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._answered: dict[tuple[str, str, int], Counter] = {}
        self._timed: dict[str, Histogram] = {}

    def request_answered(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        counter = self._answered.get(key)
        if counter is None:
            counter = self._answered[key] = self._requests.labels(route, method, str(status))
        counter.inc()
        histogram = self._timed.get(route)
        if histogram is None:
            histogram = self._timed[route] = self._latency.labels(route)
        histogram.observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
