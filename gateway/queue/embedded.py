"""The embedded queue: a SQLite file (WAL, full sync), the default for one node.

Durability without losing throughput: every operation goes through the group
committer, so a burst of enqueues costs one fsync per batch, not one per job. The
file may be shared with other processes on the same node (a separate worker, the
CLI): every transaction takes the write lock up front, and a lock held too long
fails the batch within `timeout` instead of hanging.

All database work runs on one dedicated thread with one connection, on the
standard-library sqlite3 driver: aiosqlite would pay a thread hand-off per driver
call (several per statement), this pays one per batch.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event, inspect

from connectors.sql.database import sqlite_setup
from gateway.groupcommit import DATABASE_FAILURES, GroupCommitter, Grouped, describe
from gateway.queue import sql
from gateway.queue.base import QueueUnavailable
from gateway.queue.jobs import DeadLetter, Job, Lease
from gateway.queue.schema import metadata

T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0
"""Seconds an operation may take, waiting for SQLite's write lock included.

A caller may wait for the batch in flight and then for its own, so each batch is bounded
by half of it, and waits for the lock a little less (`LOCK_WAIT_SHARE`): callers then hear
SQLite's reason, not a bare timeout.
"""

LOCK_WAIT_SHARE = 0.4
"""The share of the timeout a batch waits for SQLite's write lock."""

MAX_BATCH = 256
"""Operations sharing one transaction at most; bounds a transaction's time and size."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EmbeddedQueue:
    def __init__(
        self,
        path: Path,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_batch: int = MAX_BATCH,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.path = path
        self._timeout = timeout
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queue-db")
        self._connection: Connection | None = None
        self._committer = GroupCommitter(
            self._transact,
            clock=clock,
            timeout=timeout,
            max_batch=max_batch,
            unavailable=QueueUnavailable,
            name="queue",
        )
        self._work_arrived = asyncio.Event()

    @property
    def commits(self) -> int:
        """Transactions committed so far: fewer than operations when they share commits."""
        return self._committer.commits

    async def start(self) -> None:
        """Open the file on the database thread, then take work. One start, one close."""
        try:
            async with asyncio.timeout(self._timeout):
                self._connection = await self._on_thread(self._connect)
        except TimeoutError:
            self._thread.shutdown(wait=False)
            raise QueueUnavailable(
                f"the queue database did not open within {self._timeout:g} s"
            ) from None
        except DATABASE_FAILURES as failure:
            self._thread.shutdown(wait=False)
            raise QueueUnavailable(f"the queue database failed: {describe(failure)}") from None
        self._committer.start()

    async def close(self) -> None:
        """Commit the operations already accepted, then close the file."""
        await self._committer.close()
        if self._connection is not None:
            await self._on_thread(_dispose, self._connection)
            self._connection = None
        self._thread.shutdown(wait=False)

    async def enqueue(self, job: Job) -> None:
        await self._committer.run(Grouped(sql.insert_jobs, sql.job_row(job)))
        self._work_arrived.set()

    async def lease(self, limit: int, lease_seconds: float) -> list[Lease]:
        if limit < 1 or lease_seconds <= 0:
            raise ValueError("lease needs limit >= 1 and lease_seconds > 0")
        self._work_arrived.clear()
        token = secrets.token_urlsafe(12)
        return await self._committer.run(
            partial(sql.lease, limit=limit, seconds=lease_seconds, token=token)
        )

    async def complete(self, job_id: str, lease_token: str) -> bool:
        return await self._committer.run(Grouped(sql.complete, (job_id, lease_token)))

    async def retry(self, job_id: str, lease_token: str, delay_seconds: float, reason: str) -> bool:
        step = partial(
            sql.retry, job_id=job_id, token=lease_token, delay=delay_seconds, reason=reason
        )
        return await self._committer.run(step)

    async def dead_letter(self, job_id: str, lease_token: str, reason: str) -> bool:
        step = partial(sql.move_to_dead_letters, job_id=job_id, token=lease_token, reason=reason)
        return await self._committer.run(step)

    async def depth(self) -> int:
        return await self._committer.run(sql.depth)

    async def dead_letters(self, limit: int, offset: int = 0) -> list[DeadLetter]:
        step = partial(sql.list_dead_letters, limit=limit, offset=offset)
        return await self._committer.run(step)

    async def dead_letter_of(self, job_id: str) -> DeadLetter | None:
        return await self._committer.run(partial(sql.dead_letter_of, job_id=job_id))

    async def replay(self, job_id: str) -> bool:
        replayed = await self._committer.run(partial(sql.replay, job_id=job_id))
        if replayed:
            self._work_arrived.set()
        return replayed

    async def discard(self, job_id: str) -> bool:
        return await self._committer.run(partial(sql.discard, job_id=job_id))

    async def wait_for_work(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self._work_arrived.wait()
        except TimeoutError:
            return False
        return True

    async def _transact(self, work: Callable[[Connection], T]) -> T:
        assert self._connection is not None
        return await self._on_thread(_in_transaction, self._connection, work)

    async def _on_thread(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)

    def _connect(self) -> Connection:
        """Runs on the database thread: the one connection, and the tables."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(f"sqlite:///{self.path}", hide_parameters=True)
        busy_ms = max(1, int(self._timeout * LOCK_WAIT_SHARE * 1000))
        event.listen(engine, "connect", sqlite_setup(busy_ms, begin=None))
        event.listen(engine, "begin", _begin_immediate)
        try:
            connection = engine.connect()
            with connection.begin():
                metadata.create_all(connection)
                _add_missing_columns(connection)
        except BaseException:
            engine.dispose()
            raise
        return connection


def _add_missing_columns(connection: Connection) -> None:
    """A file written by an earlier release lacks the columns added since; each one is
    nullable, so adding it keeps every job already queued."""
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspect(connection).get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(connection.dialect)
                connection.exec_driver_sql(
                    f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"
                )


def _in_transaction(connection: Connection, work: Callable[[Connection], T]) -> T:
    with connection.begin():
        return work(connection)


def _dispose(connection: Connection) -> None:
    connection.close()
    connection.engine.dispose()


def _begin_immediate(connection: Connection) -> None:
    """Take the write lock when the transaction starts, not at its first write."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")
