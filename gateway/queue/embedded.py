"""The embedded queue: tables in a SQLite file (WAL, full sync), the default for one node.

Durability without losing throughput: every operation goes through the file's group
committer, so a burst of enqueues costs one fsync per batch, not one per job. The
queue has a file of its own, or lives in the store's (a `SqliteFile` both share), where
a new request's job and its acceptance commit together (see `gateway.admission`).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, inspect

from gateway.groupcommit import Grouped, Step
from gateway.queue import sql
from gateway.queue.base import QueueUnavailable
from gateway.queue.jobs import DeadLetter, Job, Lease
from gateway.queue.schema import metadata
from gateway.sqlitefile import SqliteFile, SqliteFileUnavailable

T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0
"""Seconds an operation may take, waiting for SQLite's write lock included."""

MAX_BATCH = 256
"""Operations sharing one transaction at most; bounds a transaction's time and size."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EmbeddedQueue:
    def __init__(
        self,
        where: Path | SqliteFile,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_batch: int = MAX_BATCH,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """A queue in a file of its own at a path, which it opens and closes; or in a
        `SqliteFile` that its owner opens and closes (the store's, shared)."""
        self._owns_file = isinstance(where, Path)
        self._file = (
            SqliteFile(where, timeout=timeout, max_batch=max_batch, clock=clock, name="queue")
            if isinstance(where, Path)
            else where
        )
        self._work_arrived = asyncio.Event()

    @property
    def path(self) -> Path:
        return self._file.path

    @property
    def commits(self) -> int:
        """Transactions committed so far: fewer than operations when they share commits."""
        return self._file.commits

    async def start(self) -> None:
        """Open the file (when the queue owns it), then make the tables. One start, one close."""
        if not self._owns_file:
            await self._run(_create_tables)
            return
        try:
            await self._file.start()
        except SqliteFileUnavailable as failure:
            raise QueueUnavailable(str(failure)) from None
        try:
            await self._run(_create_tables)
        except BaseException:
            await self._file.close()
            raise

    async def close(self) -> None:
        """Commit the operations already accepted, then close the file it owns."""
        if self._owns_file:
            await self._file.close()

    def announce(self) -> None:
        """A job was committed by a transaction the queue shared (an admission): wake
        the in-process worker as `enqueue` would."""
        self._work_arrived.set()

    async def enqueue(self, job: Job) -> None:
        await self._run(Grouped(sql.insert_jobs, sql.job_row(job)))
        self._work_arrived.set()

    async def lease(self, limit: int, lease_seconds: float) -> list[Lease]:
        if limit < 1 or lease_seconds <= 0:
            raise ValueError("lease needs limit >= 1 and lease_seconds > 0")
        self._work_arrived.clear()
        token = secrets.token_urlsafe(12)
        return await self._run(partial(sql.lease, limit=limit, seconds=lease_seconds, token=token))

    async def complete(self, job_id: str, lease_token: str) -> bool:
        return await self._run(Grouped(sql.complete, (job_id, lease_token)))

    async def retry(self, job_id: str, lease_token: str, delay_seconds: float, reason: str) -> bool:
        step = partial(
            sql.retry, job_id=job_id, token=lease_token, delay=delay_seconds, reason=reason
        )
        return await self._run(step)

    async def dead_letter(self, job_id: str, lease_token: str, reason: str) -> bool:
        step = partial(sql.move_to_dead_letters, job_id=job_id, token=lease_token, reason=reason)
        return await self._run(step)

    async def depth(self) -> int:
        return await self._run(sql.depth)

    async def ping(self) -> None:
        await self._run(sql.ping)

    async def dead_letters(self, limit: int, offset: int = 0) -> list[DeadLetter]:
        step = partial(sql.list_dead_letters, limit=limit, offset=offset)
        return await self._run(step)

    async def dead_letter_of(self, job_id: str) -> DeadLetter | None:
        return await self._run(partial(sql.dead_letter_of, job_id=job_id))

    async def replay(self, job_id: str) -> bool:
        replayed = await self._run(partial(sql.replay, job_id=job_id))
        if replayed:
            self._work_arrived.set()
        return replayed

    async def discard(self, job_id: str) -> bool:
        return await self._run(partial(sql.discard, job_id=job_id))

    async def wait_for_work(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self._work_arrived.wait()
        except TimeoutError:
            return False
        return True

    async def _run(self, work: Grouped[object, T] | Step[T]) -> T:
        return await self._file.run(work, QueueUnavailable)


def _create_tables(connection: Connection, _now: datetime) -> None:
    metadata.create_all(connection)
    _add_missing_columns(connection)


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
