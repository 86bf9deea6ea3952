"""A circuit breaker per backend: stop calling a backend that keeps failing, then probe it.

Closed, calls pass and consecutive failures are counted; at `failure_threshold` the
breaker opens and calls are refused at once (the queue keeps accepting; nothing waits
on a backend that is down). After `reset_after` seconds it is half-open: one call at a
time goes through as a probe; its success closes the breaker, its failure opens it
again. Only failures that say the backend is unwell count (the caller decides which);
a refused payload proves the backend is up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum


class BreakerState(IntEnum):
    """Numbered for the metrics gauge: 0 closed, 1 half-open, 2 open."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class BreakerOpen(Exception):
    """The call was refused without reaching the backend; `retry_after` is in seconds."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"circuit open, next probe in {retry_after:.1f} s")


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or reset_after <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_after > 0")
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._probing or self._clock() - self._opened_at >= self.reset_after:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @contextmanager
    def guard(self, is_failure: Callable[[BaseException], bool]) -> Iterator[None]:
        """Around one backend call; raises `BreakerOpen` instead of making the call."""
        probe = self._admit()
        try:
            yield
        except BaseException as exc:
            if is_failure(exc):
                self._failed()
            elif probe:
                self._probing = False  # cancelled or refused: the next call probes again
            raise
        else:
            self._succeeded()

    def _admit(self) -> bool:
        """Whether the call is the half-open probe; raises while open or probing."""
        state = self.state
        if state is BreakerState.CLOSED:
            return False
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        assert self._opened_at is not None
        waited = self._clock() - self._opened_at
        raise BreakerOpen(max(0.0, self.reset_after - waited))

    def _succeeded(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def _failed(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
        self._probing = False
