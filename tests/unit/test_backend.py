"""Calls to a backend under its limits, breaker and timeout, with a connector we control."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from connectors.base import Connector, PermanentError, Record, TransientError
from gateway.backend import Backend, Busy
from gateway.breaker import BreakerState, CircuitBreaker
from gateway.config import ConnectorConfig
from gateway.metrics import Metrics


class Controlled(Connector):
    """`get` does whatever the test sets: answer, fail, or hang until released."""

    kind = "controlled"

    def __init__(self) -> None:
        super().__init__({}, {}, timeout=0.2)
        self.failure: Exception | None = None
        self.release = asyncio.Event()
        self.release.set()
        self.calls = 0

    async def get(self, ids: Sequence[str]) -> list[Record]:
        self.calls += 1
        await self.release.wait()
        if self.failure is not None:
            raise self.failure
        return [{"id": key} for key in ids]


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def backend(connector: Controlled, metrics: Metrics, clock: Clock, **settings: float) -> Backend:
    config = ConnectorConfig.model_validate({"timeout": 0.2, **settings})
    breaker = CircuitBreaker(failure_threshold=2, reset_after=30, clock=clock)
    return Backend("city", connector, config, metrics, breaker=breaker)


@pytest.fixture
def connector() -> Controlled:
    return Controlled()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


def scraped(metrics: Metrics) -> str:
    return metrics.exposition().decode()


async def test_a_call_passes_and_is_counted(connector: Controlled, metrics: Metrics) -> None:
    calls = backend(connector, metrics, Clock())
    assert await calls.call(connector.get, ["1"]) == [{"id": "1"}]
    assert (
        'open311_backend_calls_total{jurisdiction="city",operation="get",outcome="ok"} 1.0'
        in scraped(metrics)
    )


async def test_timeouts_open_the_breaker(connector: Controlled, metrics: Metrics) -> None:
    clock = Clock()
    calls = backend(connector, metrics, clock)
    connector.release.clear()
    for _ in range(2):
        with pytest.raises(TransientError, match=r"did not answer within 0\.2 s"):
            await asyncio.wait_for(calls.call(connector.get, ["1"]), 5)
    assert calls.breaker.state is BreakerState.OPEN
    with pytest.raises(TransientError, match="calls paused for 30 s"):
        await calls.call(connector.get, ["1"])
    assert connector.calls == 2  # the open breaker kept the third call from the backend
    assert 'open311_backend_breaker_state{jurisdiction="city"} 2.0' in scraped(metrics)
    connector.release.set()
    clock.now = 30
    assert await calls.call(connector.get, ["1"]) == [{"id": "1"}]
    assert calls.breaker.state is BreakerState.CLOSED


async def test_refusals_do_not_open_the_breaker(connector: Controlled, metrics: Metrics) -> None:
    calls = backend(connector, metrics, Clock())
    connector.failure = PermanentError("no such category")
    for _ in range(3):
        with pytest.raises(PermanentError):
            await calls.call(connector.get, ["1"])
    assert calls.breaker.state is BreakerState.CLOSED
    assert 'outcome="permanent"} 3.0' in scraped(metrics)


async def test_waiting_for_a_turn_is_bounded_and_not_the_backends_fault(
    connector: Controlled, metrics: Metrics
) -> None:
    calls = backend(connector, metrics, Clock(), concurrency=1, timeout=5)
    connector.release.clear()
    holding = asyncio.create_task(calls.call(connector.get, ["1"]))
    await asyncio.sleep(0)
    calls.timeout = 0.05
    for _ in range(3):
        with pytest.raises(Busy, match=r"no turn within 0\.05 s"):
            await calls.call(connector.get, ["2"])
    assert calls.breaker.state is BreakerState.CLOSED
    connector.release.set()
    assert await holding == [{"id": "1"}]
    assert connector.calls == 1
    assert 'outcome="busy"} 3.0' in scraped(metrics)


async def test_rate_limit_spaces_calls(connector: Controlled, metrics: Metrics) -> None:
    calls = backend(connector, metrics, Clock(), rate_limit=2, timeout=0.2)
    results = await asyncio.gather(
        *(calls.call(connector.get, [str(i)]) for i in range(4)), return_exceptions=True
    )
    answered = [r for r in results if not isinstance(r, BaseException)]
    assert 1 <= len(answered) <= 3  # the bucket holds two; a third may leak in over 0.2 s
    assert all(isinstance(r, Busy) for r in results if isinstance(r, BaseException))
