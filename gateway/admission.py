"""Admitting a new request: its job durably queued and its acceptance recorded, unless
its key was admitted before, when the first submission is the answer and nothing is
queued.

When the embedded queue's tables live in the store's SQLite file (the default), the
lookup, the job and the acceptance are one transaction (`SharedFileAdmission`): one
hand-off to the database and one fsync per batch of requests, and never a job without
its acceptance or the reverse. Otherwise (RabbitMQ, or a store on PostgreSQL) they are
three steps (`SeparateAdmission`), the job durable before its acceptance is recorded.
In the one file, a job whose client waits for it is queued leased to the worker of
this process when it has a free slot (`Handover`), and handed to it once committed:
the worker neither leases it in a transaction of its own nor looks its key up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection

from connectors.sql.database import sqlite_file
from gateway.groupcommit import Grouped
from gateway.logs import get_logger
from gateway.queue import EmbeddedQueue, Job, JobQueue, Lease, QueueUnavailable
from gateway.queue import sql as queue_sql
from gateway.queue.embedded import DEFAULT_TIMEOUT, MAX_BATCH
from gateway.sqlitefile import SqliteFile
from gateway.store import Store, StoreUnavailable, Submission
from gateway.store import submissions as store_sql

log = get_logger(__name__)


class Admission(Protocol):
    async def admit(self, job: Job, accepted: Submission, *, awaited: bool = False) -> Submission:
        """The submission as stored: `accepted` once its job is queued; the first one
        under the job's key (nothing queued); or `accepted` with its outcome when its
        worker was quicker. Raises QueueUnavailable or StoreUnavailable when the job
        may not be durable: the client must hear 503, never 2xx. `awaited`: the client
        waits for the delivery (a realtime service), which may then jump the queue."""


class SeparateAdmission:
    def __init__(self, store: Store, queue: JobQueue) -> None:
        self._store = store
        self._queue = queue

    async def admit(self, job: Job, accepted: Submission, *, awaited: bool = False) -> Submission:
        first = await self._store.by_key(job.jurisdiction_id, job.idempotency_key)
        if first is not None:
            return first
        await self._queue.enqueue(job)
        try:
            return await self._store.accept(accepted)
        except StoreUnavailable as failure:
            # The job is durable: answer with its token; its worker writes the row.
            log.warning("acceptance_not_recorded", job_id=job.id, reason=str(failure))
            return accepted


class Handover(Protocol):
    """The worker of this process, taking jobs from their admission: a job queued under
    its lease needs no lease transaction, and is delivered as soon as it is committed."""

    def reserve(self, job: Job) -> Lease | None:
        """A lease on a free delivery slot, held for the job; None when none is free."""

    def hand_over(self, lease: Lease) -> None:
        """Deliver the job, now committed under its reserved lease."""

    def release(self, lease: Lease) -> None:
        """Free the slot: the job was not queued under the lease."""


class SharedFileAdmission:
    """With a `handover`, a new job whose client waits for it is queued already leased
    to this process's worker, which delivers it once the transaction committed. Other
    jobs wait their turn in the queue: a burst of batch requests is accepted first and
    delivered as the worker gets to them. A caller that fails (503) after its batch
    committed leaves the job to its lease's expiry, then to any worker, which finds it
    was handed out before."""

    def __init__(
        self, file: SqliteFile, queue: EmbeddedQueue, handover: Handover | None = None
    ) -> None:
        self._file = file
        self._queue = queue
        self._handover = handover

    async def admit(self, job: Job, accepted: Submission, *, awaited: bool = False) -> Submission:
        lease = None
        if awaited and self._handover is not None:
            lease = self._handover.reserve(job)
        work = Grouped(_admit, (queue_sql.job_row(job, lease), accepted))
        try:
            stored = await self._file.run(work, QueueUnavailable)
        except BaseException:
            self._release(lease)
            raise
        if stored is not accepted:
            self._release(lease)
        elif lease is not None:
            assert self._handover is not None
            self._handover.hand_over(lease)
        else:
            self._queue.announce()
        return stored

    def _release(self, lease: Lease | None) -> None:
        if lease is not None:
            assert self._handover is not None
            self._handover.release(lease)


def _admit(
    connection: Connection, now: datetime, items: list[tuple[tuple[Any, ...], Submission]]
) -> list[Submission]:
    """A batch of admissions in the caller's transaction, which holds the write lock.
    An acceptance goes in unless its key is stored, and only those admitted queue their
    job; of two in the batch with one key the first is admitted and is the other's
    answer, and a key stored before answers with the first submission."""
    recorded = store_sql.record_unless_known(connection, [accepted for _, accepted in items])
    if recorded:
        queue_sql.insert_jobs(
            connection, now, [row for row, accepted in items if accepted.job_id in recorded]
        )
    repeats = [_key(accepted) for _, accepted in items if accepted.job_id not in recorded]
    firsts = dict(zip(repeats, store_sql.by_key(connection, now, repeats), strict=True))
    answers = []
    for _, accepted in items:
        answer = accepted if accepted.job_id in recorded else firsts[_key(accepted)]
        if answer is None:
            raise RuntimeError("a key neither recorded nor found")  # a bug, not data
        answers.append(answer)
    return answers


def _key(accepted: Submission) -> store_sql.Key:
    return (accepted.jurisdiction_id, accepted.idempotency_key or "")


def shared_file(store_url: str, queue_url: str) -> SqliteFile | None:
    """The one SQLite file that holds both the store and the embedded queue, when the
    configuration names the same file for both; None otherwise."""
    store_file, queue_file = sqlite_file(store_url), sqlite_file(queue_url)
    if store_file is None or queue_file is None or queue_file.resolve() != store_file.resolve():
        return None
    return SqliteFile(store_file, timeout=DEFAULT_TIMEOUT, max_batch=MAX_BATCH, name="gateway")
