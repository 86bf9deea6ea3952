"""How a POST waiting for its job hears the outcome.

A worker stores every outcome first (so a token resolves on any instance), then
announces it. The gateway instance that accepted the job may be waiting for it: in the
same process the announcement resolves a future; across processes it travels to the
instance's own address (an AMQP reply queue) named in the job's `reply_to`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from gateway.queue.jobs import Job


@dataclass(frozen=True, slots=True)
class Outcome:
    job_id: str
    jurisdiction_id: str
    service_request_id: str | None
    """The backend's id when the record was created (or found already there)."""
    error: str | None
    """The backend's reason when the job was dead-lettered; safe to show and log."""


class Outcomes(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    @property
    def address(self) -> str | None:
        """Where workers send outcomes for this instance; None when they are in-process."""

    def expect(self, job_id: str) -> asyncio.Future[Outcome]:
        """A future for the job's outcome; call it before the job is enqueued."""

    def forget(self, job_id: str) -> None:
        """The POST stopped waiting: drop its future."""

    async def announce(self, job: Job, outcome: Outcome) -> None:
        """Called by a worker once the outcome is stored; never raises for a lost listener."""


class LocalOutcomes:
    """Outcomes heard in-process: a worker in this process resolves the waiting futures."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[Outcome]] = {}

    async def start(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()

    @property
    def address(self) -> str | None:
        return None

    def expect(self, job_id: str) -> asyncio.Future[Outcome]:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting[job_id] = future
        return future

    def forget(self, job_id: str) -> None:
        self._waiting.pop(job_id, None)

    async def announce(self, job: Job, outcome: Outcome) -> None:
        future = self._waiting.pop(job.id, None)
        if future is not None and not future.done():
            future.set_result(outcome)
