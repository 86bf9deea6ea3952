"""A jurisdiction's connector as the gateway calls it: bounded, guarded and measured.

Every call waits for a turn (the rate limit, then one of `concurrency` slots), so a
burst never reaches a legacy back office unthrottled; runs behind the backend's
circuit breaker; and is bounded by the connector's timeout (plus a grace, in case a
connector does not honour its own). Waiting too long for a turn is a transient
failure of this gateway, not of the backend: it does not trip the breaker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from aiolimiter import AsyncLimiter

from connectors.base import (
    Connector,
    ConnectorError,
    NotFoundError,
    PermanentError,
    TransientError,
    UnsupportedError,
)
from gateway.breaker import BreakerOpen, CircuitBreaker
from gateway.config import CALL_GRACE_SECONDS, ConnectorConfig
from gateway.metrics import Metrics

P = ParamSpec("P")
T = TypeVar("T")


class Busy(TransientError):
    """No turn came within the timeout: the gateway's own limits, not the backend, held it."""


def _unwell(exc: BaseException) -> bool:
    """Failures that say the backend is down or overloaded; they count toward the breaker."""
    return isinstance(exc, TransientError | TimeoutError) and not isinstance(exc, Busy)


def _outcome(exc: BaseException) -> str:
    for kind, name in (
        (Busy, "busy"),
        (TransientError, "transient"),
        (PermanentError, "permanent"),
        (NotFoundError, "not_found"),
        (UnsupportedError, "unsupported"),
    ):
        if isinstance(exc, kind):
            return name
    return "error"


class Backend:
    def __init__(
        self,
        jurisdiction_id: str,
        connector: Connector,
        config: ConnectorConfig,
        metrics: Metrics,
        *,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.jurisdiction_id = jurisdiction_id
        self.connector = connector
        self.timeout = config.timeout
        self.breaker = breaker or CircuitBreaker(
            failure_threshold=config.breaker_threshold, reset_after=config.breaker_reset
        )
        self._slots = asyncio.Semaphore(config.concurrency)
        self._limiter = AsyncLimiter(config.rate_limit, 1.0) if config.rate_limit else None
        self._metrics = metrics
        metrics.watch_backend(jurisdiction_id, lambda: self.breaker.state)

    async def call(
        self, operation: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`operation(*args)` (a method of the connector), under every limit; typed errors."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await self._call(operation, *args, **kwargs)
        except ConnectorError as exc:
            outcome = _outcome(exc)
            raise
        finally:
            seconds = time.perf_counter() - started
            self._metrics.backend_call(self.jurisdiction_id, operation.__name__, outcome, seconds)

    async def _call(
        self, operation: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        try:
            with self.breaker.guard(_unwell):
                await self._turn()
                try:
                    async with asyncio.timeout(self.timeout + CALL_GRACE_SECONDS):
                        return await operation(*args, **kwargs)
                finally:
                    self._slots.release()
        except BreakerOpen as exc:
            raise TransientError(
                f"backend of {self.jurisdiction_id} is failing; calls paused for "
                f"{exc.retry_after:.0f} s"
            ) from None
        except TimeoutError:
            raise TransientError(
                f"backend of {self.jurisdiction_id} did not answer within {self.timeout:g} s"
            ) from None

    async def _turn(self) -> None:
        """Wait for the rate limit and a free slot, at most `timeout` seconds in all."""
        if self._limiter is None and not self._slots.locked():
            await self._slots.acquire()  # free now: nothing to wait for, nothing to bound
            return
        try:
            async with asyncio.timeout(self.timeout):
                if self._limiter is not None:
                    await self._limiter.acquire()
                await self._slots.acquire()
        except TimeoutError:
            raise Busy(
                f"backend of {self.jurisdiction_id} is at its limits: "
                f"no turn within {self.timeout:g} s"
            ) from None
