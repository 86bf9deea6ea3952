"""The circuit breaker, on a clock the tests move by hand."""

from __future__ import annotations

import pytest

from gateway.breaker import BreakerOpen, BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Down(Exception):
    pass


class Refused(Exception):
    pass


def is_failure(exc: BaseException) -> bool:
    return isinstance(exc, Down)


def call(breaker: CircuitBreaker, outcome: type[Exception] | None = None) -> None:
    with breaker.guard(is_failure):
        if outcome is not None:
            raise outcome()


def fail(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(Down):
            call(breaker, Down)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, reset_after=10.0, clock=clock)


def test_opens_after_consecutive_failures(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    fail(breaker)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(BreakerOpen) as refused:
        call(breaker)
    assert refused.value.retry_after == 10.0


def test_a_success_resets_the_count(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    call(breaker)
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED


def test_refusals_do_not_count(breaker: CircuitBreaker) -> None:
    for _ in range(5):
        with pytest.raises(Refused):
            call(breaker, Refused)
    assert breaker.state is BreakerState.CLOSED


def test_half_open_lets_one_probe_through(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now = 9.0
    with pytest.raises(BreakerOpen) as refused:
        call(breaker)
    assert refused.value.retry_after == pytest.approx(1.0)
    clock.now = 10.0
    assert breaker.state is BreakerState.HALF_OPEN
    with breaker.guard(is_failure), pytest.raises(BreakerOpen):
        call(breaker)  # a second call while the probe is out
    assert breaker.state is BreakerState.CLOSED


def test_a_failed_probe_opens_again(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now = 10.0
    fail(breaker)
    assert breaker.state is BreakerState.OPEN
    clock.now = 19.0
    assert breaker.state is BreakerState.OPEN
    clock.now = 20.0
    assert breaker.state is BreakerState.HALF_OPEN


def test_a_probe_that_ends_otherwise_frees_the_next_one(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    fail(breaker, 3)
    clock.now = 10.0
    with pytest.raises(Refused):
        call(breaker, Refused)
    assert breaker.state is BreakerState.HALF_OPEN
    call(breaker)
    assert breaker.state is BreakerState.CLOSED


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError, match="reset_after"):
        CircuitBreaker(reset_after=0)
