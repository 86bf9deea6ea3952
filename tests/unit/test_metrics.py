"""HTTP request tallies as Prometheus reads them."""

from __future__ import annotations

from gateway.metrics import Metrics


def test_requests_are_counted_and_bucketed_cumulatively() -> None:
    metrics = Metrics()
    metrics.request_answered("services", "GET", 200, 0.003)
    metrics.request_answered("services", "GET", 200, 0.0025)  # on a bound: counted in it
    metrics.request_answered("services", "GET", 404, 20.0)
    text = metrics.exposition().decode()
    assert 'open311_http_requests_total{method="GET",route="services",status="200"} 2.0' in text
    assert 'open311_http_requests_total{method="GET",route="services",status="404"} 1.0' in text
    bucket = "open311_http_request_duration_seconds_bucket"
    assert f'{bucket}{{le="0.001",route="services"}} 0.0' in text
    assert f'{bucket}{{le="0.0025",route="services"}} 1.0' in text
    assert f'{bucket}{{le="0.005",route="services"}} 2.0' in text
    assert f'{bucket}{{le="10.0",route="services"}} 2.0' in text
    assert f'{bucket}{{le="+Inf",route="services"}} 3.0' in text
    assert 'open311_http_request_duration_seconds_sum{route="services"} 20.0055' in text


def test_each_runtime_counts_alone() -> None:
    first, second = Metrics(), Metrics()
    first.request_answered("services", "GET", 200, 0.001)
    assert "open311_http_requests_total{" not in second.exposition().decode()
