"""Prometheus metrics of one running gateway, served at `/metrics`.

Each runtime has its own registry, so two gateways in one process (tests) never share
counts. Requests and backend calls are tallied in plain numbers and turned into metric
families only when scraped: prometheus-client's locked instruments cost a noticeable
share of a cached GET (py-spy under wrk). The worker's instruments, a few per delivery,
keep their label children once looked up.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator
from itertools import accumulate
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = ["CONTENT_TYPE", "Metrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Tally(
            "open311_http_requests",
            "HTTP requests answered, by route, method and status.",
            ("route", "method", "status"),
            "open311_http_request_duration_seconds",
            "Time from receiving a request to its answer, by route.",
            timed_labels=1,
        )
        self._backend_calls = Tally(
            "open311_backend_calls",
            "Calls to backends, by jurisdiction, operation and outcome.",
            ("jurisdiction", "operation", "outcome"),
            "open311_backend_call_duration_seconds",
            "Time a backend call took, waiting for a turn included, by jurisdiction.",
            timed_labels=2,
        )
        for tally in (self._requests, self._backend_calls):
            self.registry.register(tally)
        self._breaker_state = Gauge(
            "open311_backend_breaker_state",
            "Circuit breaker of each backend: 0 closed, 1 half-open, 2 open.",
            ("jurisdiction",),
            registry=self.registry,
        )
        self._queue_depth = Gauge(
            "open311_queue_depth",
            "Jobs in the queue (ready, waiting for a retry, or being delivered), at scrape.",
            registry=self.registry,
        )
        self._in_flight = Gauge(
            "open311_deliveries_in_flight",
            "Jobs this process is delivering now, by jurisdiction.",
            ("jurisdiction",),
            registry=self.registry,
        )
        self._attempts = Counter(
            "open311_delivery_attempts",
            "Deliveries of jobs tried, by jurisdiction.",
            ("jurisdiction",),
            registry=self.registry,
        )
        self._deliveries = Counter(
            "open311_deliveries",
            "Delivery attempts by how they ended: created, found (the backend or the store "
            "had the record already), retried, dead (dead-lettered), cancelled (shutdown), "
            "failed (not settled: the job comes back when its lease expires).",
            ("jurisdiction", "outcome"),
            registry=self.registry,
        )
        self._children: dict[tuple[object, ...], Any] = {}

    def request_answered(self, route: str, method: str, status: int, seconds: float) -> None:
        self._requests.add((route, method, str(status)), seconds)

    def watch_backend(self, jurisdiction: str, breaker_state: Callable[[], float]) -> None:
        """Read a backend's breaker state at each scrape."""
        self._breaker_state.labels(jurisdiction).set_function(breaker_state)

    def backend_call(self, jurisdiction: str, operation: str, outcome: str, seconds: float) -> None:
        self._backend_calls.add((jurisdiction, operation, outcome), seconds)

    def queue_depth(self, jobs: int) -> None:
        self._queue_depth.set(jobs)

    def delivery_started(self, jurisdiction: str) -> None:
        self._child(self._attempts, jurisdiction).inc()
        self._child(self._in_flight, jurisdiction).inc()

    def delivery_ended(self, jurisdiction: str, outcome: str) -> None:
        self._child(self._in_flight, jurisdiction).dec()
        self._child(self._deliveries, jurisdiction, outcome).inc()

    def _child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, looked up once per label set."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class Tally(Collector):
    """A counter and a latency histogram kept in plain numbers in the event loop's
    thread, turned into metric families when scraped. The histogram's labels are the
    first `timed_labels` of the counter's."""

    def __init__(
        self,
        name: str,
        help_text: str,
        labels: tuple[str, ...],
        timed_name: str,
        timed_help: str,
        timed_labels: int,
    ) -> None:
        self._names = (name, help_text, labels)
        self._timed_names = (timed_name, timed_help, labels[:timed_labels])
        self._timed_labels = timed_labels
        self._counts: dict[tuple[str, ...], int] = defaultdict(int)
        self._buckets: dict[tuple[str, ...], list[int]] = {}
        self._seconds: dict[tuple[str, ...], float] = defaultdict(float)

    def add(self, labels: tuple[str, ...], seconds: float) -> None:
        self._counts[labels] += 1
        timed = labels[: self._timed_labels]
        buckets = self._buckets.get(timed)
        if buckets is None:
            buckets = self._buckets[timed] = [0] * (len(LATENCY_BUCKETS) + 1)
        buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self._seconds[timed] += seconds

    def collect(self) -> Iterator[Metric]:
        name, help_text, labels = self._names
        counter = CounterMetricFamily(name, help_text, labels=labels)
        for values, count in self._counts.items():
            counter.add_metric(values, count)
        yield counter
        name, help_text, labels = self._timed_names
        histogram = HistogramMetricFamily(name, help_text, labels=labels)
        bounds = [*map(floatToGoString, LATENCY_BUCKETS), "+Inf"]
        for values, counts in self._buckets.items():
            cumulative = list(zip(bounds, accumulate(counts), strict=True))
            histogram.add_metric(values, cumulative, self._seconds[values])
        yield histogram
