"""What the queue tests share: a clock they move by hand, and jobs to put in a queue."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from gateway.queue import Job, JobKind

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """The queue's clock for the times it writes (a broker keeps its own for TTLs)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def new_job(clock: FakeClock, key: str = "key-1", **changes: object) -> Job:
    job = Job.create(
        "example.city", JobKind.CREATE_REQUEST, key, b'{"description":"hole"}', now=clock()
    )
    return replace(job, **changes)
