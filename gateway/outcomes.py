"""How a waiting POST hears the outcome of its job: the worker announces it to the
gateway instance that enqueued the job, which resolves the POST's future.

The instance calls `expect` before it enqueues (so an outcome arriving at once is not
missed), puts its `address` in the job's `reply_to`, and waits on the future within
its short wait window; `forget` drops the future when the POST stops waiting. The
worker announces only after the outcome is recorded in the store, and an announcement
is best effort: a POST that hears nothing falls back to its token, which resolves
from the store on any instance.
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
    service_request_id: str | None  # the backend's id when created (or found already there)
    error: str | None  # the backend's reason when the job was dead-lettered


class Outcomes(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    @property
    def address(self) -> str | None: ...  # where workers send outcomes for this instance
    def expect(self, job_id: str) -> asyncio.Future[Outcome]: ...  # before enqueue
    def forget(self, job_id: str) -> None: ...  # the POST stopped waiting
    async def announce(self, job: Job, outcome: Outcome) -> None: ...  # worker side
