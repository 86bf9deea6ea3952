"""The gateway's own durable state: submissions, their idempotency keys and outcomes.

Its schema is versioned (`migrate.py`): starting a store brings it up to date.

SQLAlchemy Core on the same kind of durable database as the SQL connector: SQLite (WAL, full
sync, one writer) by default, PostgreSQL when several gateway instances share it, so
a token resolves on any instance. The calls on every POST's path (a key's first answer,
acceptance, outcomes) are group-committed: concurrent callers share one transaction.
A SQLite store may share its file with the embedded queue (`shared`): its writes then
run on that file's connection and share its transactions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Connection, text

from connectors.sql.database import Database, open_database, sqlite_file
from gateway.groupcommit import DATABASE_FAILURES, GroupCommitter, Grouped, describe
from gateway.outcomes import Outcome
from gateway.queue import Job
from gateway.sqlitefile import SqliteFile
from gateway.store import submissions as sql
from gateway.store.migrate import upgrade
from gateway.store.submissions import Settlement, Submission, SubmissionState

__all__ = ["Store", "StoreUnavailable", "Submission", "SubmissionState"]

T = TypeVar("T")

_TIMEOUT_SECONDS = 5.0
"""How long a store call may take, waiting for SQLite's write lock included."""

_LOCK_WAIT_SECONDS = 2.0
"""How long a statement waits for SQLite's write lock (or PostgreSQL for a pooled
connection): less than a group-committed batch may take, half the timeout."""

_MAX_BATCH = 256
"""Calls sharing one transaction at most."""


class StoreUnavailable(Exception):
    """The store could not answer in time; the message names the failure, never data."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Store:
    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], datetime] = _utc_now,
        shared: SqliteFile | None = None,
    ) -> None:
        """`shared`: the file of a SQLite `url`, opened by its owner, where the store's
        writes share the queue's transactions."""
        self.url = url
        self._clock = clock
        self._shared_file = shared
        self._database: Database | None = None
        self._committer: GroupCommitter | None = None

    @property
    def database(self) -> Database:
        if self._database is None:
            raise RuntimeError("store is not started")
        return self._database

    async def start(self) -> None:
        database_file = sqlite_file(self.url)
        if database_file is not None:
            database_file.parent.mkdir(parents=True, exist_ok=True)
        self._database = open_database(self.url, timeout=_LOCK_WAIT_SECONDS, pool_size=None)
        await self._database.write(upgrade)
        if self._shared_file is not None:
            return
        self._committer = GroupCommitter(
            self._database.write,
            clock=self._clock,
            timeout=_TIMEOUT_SECONDS,
            max_batch=_MAX_BATCH,
            unavailable=StoreUnavailable,
            name="store",
        )
        self._committer.start()

    async def close(self) -> None:
        if self._committer is not None:
            await self._committer.close()
            self._committer = None
        if self._database is not None:
            await self._database.dispose()
            self._database = None

    async def ping(self) -> None:
        await self._read(lambda connection: connection.execute(text("SELECT 1")))

    async def by_key(self, jurisdiction_id: str, idempotency_key: str) -> Submission | None:
        """The submission accepted under this key, if any."""
        return await self._shared(Grouped(sql.by_key, (jurisdiction_id, idempotency_key)))

    async def latest_by_fingerprint(
        self, jurisdiction_id: str, fingerprint: str
    ) -> Submission | None:
        """The newest submission of a request with this fingerprint, if any."""
        return await self._shared(
            Grouped(sql.latest_by_fingerprint, (jurisdiction_id, fingerprint))
        )

    async def accept(self, submission: Submission) -> Submission:
        """Record an acceptance; returns the submission as stored. That is another one when
        a concurrent twin took its key first (answer the twin's answer), or this one with
        its outcome when its worker was quicker than this call."""
        return await self._shared(Grouped(sql.accept, submission))

    async def settle(self, job: Job, outcome: Outcome) -> None:
        """Record a job's outcome, before the job leaves the queue."""
        settlement = Settlement(
            job_id=job.id,
            jurisdiction_id=job.jurisdiction_id,
            idempotency_key=job.idempotency_key,
            accepted_at=job.enqueued_at,
            service_request_id=outcome.service_request_id,
            reason=outcome.error,
        )
        await self._shared(Grouped(sql.settle, settlement))

    async def submission(self, jurisdiction_id: str, job_id: str) -> Submission | None:
        """A submission by its job id, which is also its token."""
        key = (jurisdiction_id, job_id)
        (found,) = await self._read(lambda connection: sql.by_job(connection, self._clock(), [key]))
        return found

    async def dead(self, limit: int, offset: int = 0) -> list[Submission]:
        """Dead-lettered submissions, the most recent first: the audit of what failed."""
        return await self._read(lambda c: sql.dead(c, limit=limit, offset=offset))

    async def _shared(self, work: Grouped[object, T]) -> T:
        if self._database is None:
            raise StoreUnavailable("the store is not started")
        if self._shared_file is not None:
            return await self._shared_file.run(work, StoreUnavailable)
        assert self._committer is not None
        return await self._committer.run(work)

    async def _read(self, work: Callable[[Connection], T]) -> T:
        try:
            async with asyncio.timeout(_TIMEOUT_SECONDS):
                return await self.database.read(work)
        except TimeoutError:
            raise StoreUnavailable(
                f"the store did not answer within {_TIMEOUT_SECONDS:g} s"
            ) from None
        except DATABASE_FAILURES as failure:
            raise StoreUnavailable(f"the store database failed: {describe(failure)}") from None
