"""All database work on one thread, grouped into shared transactions (group commit).

Work that arrives while a transaction runs waits for the next one and shares it: one
hand-off to the thread, one `BEGIN IMMEDIATE`, one commit and one fsync for the whole
batch. Row inserts of the same statement go in as one executemany. Each caller's
future is resolved only after the commit returned; when the batch fails, every caller
in it gets `QueueUnavailable` and nothing of the batch is written.

The standard-library sqlite3 driver runs on a dedicated thread rather than through
aiosqlite, which pays a thread hand-off per driver call (several per statement).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Executable
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from gateway.queue.base import QueueUnavailable

T = TypeVar("T")

_DATABASE_FAILURES = (SQLAlchemyError, sqlite3.Error, OSError)
"""What a database (or its disk) raises; anything else is a bug and reaches callers as is."""

Step = Callable[[Connection, datetime], T]
"""Work done inside a shared transaction, given the batch's `now`."""


@dataclass(frozen=True, slots=True)
class RowInsert:
    """One row for `statement`; rows of one statement in a batch share an executemany."""

    statement: Executable
    row: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Pending:
    work: RowInsert | Step[Any]
    outcome: asyncio.Future[Any]


class GroupCommitter:
    """One start and one close: the thread is not restarted."""

    def __init__(self, *, clock: Callable[[], datetime], timeout: float, max_batch: int) -> None:
        self._clock = clock
        self._timeout = timeout
        self._max_batch = max_batch
        self._inbox: list[_Pending] = []
        self._arrived = asyncio.Event()
        self._closing = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queue-db")
        self._connection: Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self.commits = 0
        """Transactions committed: how many batches the work shared, for tests and figures."""

    async def start(self, connect: Callable[[], Connection]) -> None:
        """Open the connection on the thread with `connect`, then take work."""
        try:
            async with asyncio.timeout(self._timeout):
                self._connection = await self._on_thread(connect)
        except TimeoutError:
            self._thread.shutdown(wait=False)
            raise QueueUnavailable(
                f"the queue database did not open within {self._timeout:g} s"
            ) from None
        except _DATABASE_FAILURES as failure:
            self._thread.shutdown(wait=False)
            raise QueueUnavailable(f"the queue database failed: {_describe(failure)}") from None
        self._task = asyncio.create_task(
            self._commit_loop(self._connection), name="queue-group-commit"
        )

    async def close(self) -> None:
        """Commit the work already accepted, refuse more, then close the connection."""
        self._closing = True
        if self._task is not None:
            self._arrived.set()
            await self._task
            self._task = None
        if self._connection is not None:
            await self._on_thread(_dispose, self._connection)
            self._connection = None
        self._thread.shutdown(wait=False)

    async def run(self, work: RowInsert | Step[T]) -> T:
        """The work's result once its transaction committed, bounded by the timeout."""
        if self._task is None or self._closing:
            raise QueueUnavailable("the queue is not running")
        outcome: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inbox.append(_Pending(work, outcome))
        self._arrived.set()
        try:
            async with asyncio.timeout(self._timeout):
                return await outcome
        except TimeoutError:
            raise QueueUnavailable(f"the queue did not answer within {self._timeout:g} s") from None

    async def _commit_loop(self, connection: Connection) -> None:
        while self._inbox or not self._closing:
            if not self._inbox:
                self._arrived.clear()
                await self._arrived.wait()
                continue
            batch = self._inbox[: self._max_batch]
            del self._inbox[: self._max_batch]
            batch = [pending for pending in batch if not pending.outcome.done()]  # gave up
            if batch:
                await self._commit(connection, batch)

    async def _commit(self, connection: Connection, batch: list[_Pending]) -> None:
        works = [pending.work for pending in batch]
        try:
            results = await self._on_thread(_transaction, connection, self._clock(), works)
        except _DATABASE_FAILURES as failure:
            _fail(batch, QueueUnavailable(f"the queue database failed: {_describe(failure)}"))
        except Exception as bug:  # the loop must outlive a bug, and the callers see it
            _fail(batch, bug)
        else:
            self.commits += 1
            for pending, result in zip(batch, results, strict=True):
                if not pending.outcome.done():
                    pending.outcome.set_result(result)

    async def _on_thread(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)


def _transaction(
    connection: Connection, now: datetime, works: list[RowInsert | Step[Any]]
) -> list[Any]:
    """Runs on the thread: the whole batch in one transaction, inserts first."""
    rows: dict[Executable, list[dict[str, Any]]] = {}
    for work in works:
        if isinstance(work, RowInsert):
            rows.setdefault(work.statement, []).append(work.row)
    with connection.begin():
        for statement, same_statement_rows in rows.items():
            connection.execute(statement, same_statement_rows)
        return [None if isinstance(work, RowInsert) else work(connection, now) for work in works]


def _dispose(connection: Connection) -> None:
    connection.close()
    connection.engine.dispose()


def _describe(failure: Exception) -> str:
    """The driver's own message (SQLite's carry no values); never the SQL parameters."""
    if isinstance(failure, DBAPIError) and failure.orig is not None:
        return str(failure.orig)
    if isinstance(failure, SQLAlchemyError):
        return type(failure).__name__
    return str(failure)


def _fail(batch: list[_Pending], failure: Exception) -> None:
    for pending in batch:
        if not pending.outcome.done():
            pending.outcome.set_exception(failure)
