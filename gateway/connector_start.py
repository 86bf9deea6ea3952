"""Starting a jurisdiction's connector so that its failure stays its own.

A start that raises or outlasts its timeout is logged (jurisdiction, connector kind and
reason) and tried again in the background, with capped exponential backoff and jitter,
until it succeeds or the gateway closes: a back office that comes back is served again
without a restart, and the other jurisdictions never wait for it. Until then the
jurisdiction answers 503 and `/readyz` says why. What runs on the connector (the
catalogue refresh) starts only once the connector has, and stops before it closes.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from typing import Protocol

from connectors.base import Connector, ConnectorError
from gateway.logs import get_logger
from gateway.queue import Backoff
from gateway.tasks import Sleep, cancelled, jittered

log = get_logger(__name__)

RETRY = Backoff(base_seconds=1.0, cap_seconds=60.0)
"""Seconds between start attempts: 1, 2, 4 ... then a minute at most. There is no last
attempt: a jurisdiction that gave up would stay down until someone restarts the gateway,
and each attempt is bounded by the start timeout."""
NOT_STARTED = "not started yet"


class Dependent(Protocol):
    """Something that runs on a started connector."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class ConnectorStarter:
    """Starts and closes one jurisdiction's connector; `problem` says why it is not
    started (None once it is). `sleep` and `random` stand in for `asyncio.sleep` and
    `random.random`, so that tests drive the retries."""

    def __init__(
        self,
        jurisdiction: str,
        connector: Connector,
        *,
        timeout: float,
        retry: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = random.random,
    ) -> None:
        self._jurisdiction = jurisdiction
        self._connector = connector
        self._timeout = timeout
        self._retry = retry or RETRY
        self._sleep = sleep
        self._random = random
        self._dependents: Sequence[Dependent] = ()
        self._connector_started = False
        self._started = asyncio.Event()
        """Set once the connector and its dependents have started."""
        self._task: asyncio.Task[None] | None = None
        self.problem: str | None = NOT_STARTED

    async def start(self, dependents: Sequence[Dependent] = ()) -> None:
        """Try once now; if that fails, keep trying in the background. Never raises."""
        self._dependents = dependents
        if not await self._attempt(0):
            self._task = asyncio.create_task(
                self._retry_until_started(), name=f"connector-start:{self._jurisdiction}"
            )

    async def wait_started(self) -> None:
        """Return once the connector and what runs on it have started."""
        await self._started.wait()

    async def close(self) -> None:
        """Stop retrying; close the dependents, then the connector, if it started."""
        await cancelled(self._task)
        self._task = None
        if self._connector_started:
            for dependent in reversed(self._dependents):
                await dependent.close()
            await self._connector.close()
            self._connector_started = False
        self._started.clear()
        self.problem = NOT_STARTED

    async def _retry_until_started(self) -> None:
        attempt = 1
        while not await self._attempt(attempt, after=self._delay(attempt - 1)):
            attempt += 1

    async def _attempt(self, attempt: int, *, after: float = 0.0) -> bool:
        if after:
            await self._sleep(after)
        kind = self._connector.kind
        try:
            async with asyncio.timeout(self._timeout):
                await self._connector.start()
        except asyncio.CancelledError:
            await self._release()
            raise
        except Exception as exc:
            self.problem = failure_reason(exc, self._timeout)
            log.warning(
                "connector_start_failed",
                jurisdiction=self._jurisdiction,
                connector=kind,
                reason=self.problem,
                attempt=attempt,
            )
            await self._release()
            return False
        self._connector_started = True
        for dependent in self._dependents:
            await dependent.start()
        self.problem = None
        self._started.set()
        log.info("jurisdiction_started", jurisdiction=self._jurisdiction, connector=kind)
        return True

    async def _release(self) -> None:
        """Close whatever part of the connector a failed start opened, within the timeout."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._connector.close()
        except Exception as exc:
            log.warning(
                "connector_close_failed",
                jurisdiction=self._jurisdiction,
                connector=self._connector.kind,
                reason=failure_reason(exc, self._timeout),
            )

    def _delay(self, failures: int) -> float:
        return jittered(self._retry.ceiling(failures), self._random)


def failure_reason(exc: Exception, timeout: float) -> str:
    """Why a call to a connector failed, safe to log and to show: the connector's own
    reason; otherwise the exception's type (and an OS error's description), never its
    text, which may hold an address with credentials."""
    if isinstance(exc, TimeoutError):
        return f"did not answer within {timeout:g} s"
    if isinstance(exc, ConnectorError):
        return exc.reason
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__
