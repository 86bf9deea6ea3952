"""The interface every job queue offers: embedded (SQLite) or a broker.

Delivery is at least once. A worker leases jobs; a lease hides its jobs from other
`lease` calls until it is settled or expires, after which the jobs are handed out
again (the worker holding them may have crashed). Settling — `complete`, `retry`,
`dead_letter` — takes the job id and the lease's token and answers whether it applied:
False means the lease expired and the job was handed out again (or settled) under a
newer lease, so this worker's outcome must not overwrite the newer one.
"""

from __future__ import annotations

from typing import Protocol

from gateway.queue.jobs import DeadLetter, Job, Lease


class QueueUnavailable(Exception):
    """The queue could not do the operation in time: a POST gets 503, never 2xx.

    The message names the failure, never a job's payload.
    """


class JobQueue(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None:
        """Finishes the operations already accepted, then refuses new ones."""

    async def enqueue(self, job: Job) -> None:
        """Returns once the job is durable (committed and synced to disk).

        Raises `QueueUnavailable` otherwise; the job may then be stored or not, so
        the caller answers 503 and the client's retry relies on the idempotency key.
        """

    async def lease(self, limit: int, lease_seconds: float) -> list[Lease]:
        """Up to `limit` ready jobs, longest ready first, each hidden for `lease_seconds`."""

    async def complete(self, job_id: str, lease_token: str) -> bool:
        """The job is done: removed from the queue."""

    async def retry(self, job_id: str, lease_token: str, delay_seconds: float, reason: str) -> bool:
        """Ready again after `delay_seconds`, with `attempt` one higher."""

    async def dead_letter(self, job_id: str, lease_token: str, reason: str) -> bool:
        """Moved to the dead letters, where only an operator brings it back."""

    async def depth(self) -> int:
        """Jobs in the queue: ready, waiting for a retry, or leased."""

    async def ping(self) -> None:
        """Raises `QueueUnavailable` unless the queue can take a job now; at a cost that
        does not grow with the jobs queued (`/readyz` asks every few seconds)."""

    async def dead_letters(self, limit: int, offset: int = 0) -> list[DeadLetter]:
        """Dead letters, newest first."""

    async def dead_letter_of(self, job_id: str) -> DeadLetter | None: ...

    async def replay(self, job_id: str) -> bool:
        """A dead letter back in the queue, ready now with `attempt` 0; False if unknown."""

    async def discard(self, job_id: str) -> bool:
        """A dead letter deleted for good; False if unknown."""

    async def wait_for_work(self, seconds: float) -> bool:
        """Sleep until a job is enqueued or replayed in this process since the last
        `lease` began, or `seconds` pass; True when woken by work.

        An idle in-process worker calls it after an empty lease instead of polling.
        """
