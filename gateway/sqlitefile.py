"""One SQLite file the gateway keeps on its node (WAL, full sync), on one thread with one
connection, its writes group-committed.

The embedded queue lives in one; by default the store's SQLite database is the same
file, so a new request's job and its acceptance commit in one transaction (see
`gateway.admission`). The file may be shared with other processes on the node (a
separate worker, the CLI): every transaction takes the write lock up front, and a lock
held too long fails the batch within `timeout` instead of hanging.

All database work runs on the one thread, on the standard-library sqlite3 driver:
aiosqlite would pay a thread hand-off per driver call (several per statement), this
pays one per batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event

from connectors.sql.database import sqlite_setup
from gateway.groupcommit import DATABASE_FAILURES, GroupCommitter, Grouped, Step, describe

T = TypeVar("T")

LOCK_WAIT_SHARE = 0.4
"""The share of the timeout a batch waits for SQLite's write lock.

A caller may wait for the batch in flight and then for its own, so each batch is bounded
by half of the timeout, and waits for the lock a little less: callers then hear SQLite's
reason, not a bare timeout.
"""


class SqliteFileUnavailable(Exception):
    """The file could not be opened, or a transaction failed; the message names why."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SqliteFile:
    """One start and one close."""

    def __init__(
        self,
        path: Path,
        *,
        timeout: float,
        max_batch: int,
        clock: Callable[[], datetime] = _utc_now,
        name: str,
    ) -> None:
        self.path = path
        self._timeout = timeout
        self._name = name
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-db")
        self._connection: Connection | None = None
        self._committer = GroupCommitter(
            self._transact,
            clock=clock,
            timeout=timeout,
            max_batch=max_batch,
            unavailable=SqliteFileUnavailable,
            name=name,
        )

    @property
    def commits(self) -> int:
        """Transactions committed so far: fewer than operations when they share commits."""
        return self._committer.commits

    async def start(self) -> None:
        """Open the file on its thread, then take work."""
        try:
            async with asyncio.timeout(self._timeout):
                self._connection = await self._on_thread(self._connect)
        except TimeoutError:
            self._thread.shutdown(wait=False)
            raise SqliteFileUnavailable(
                f"the {self._name} database did not open within {self._timeout:g} s"
            ) from None
        except DATABASE_FAILURES as failure:
            self._thread.shutdown(wait=False)
            raise SqliteFileUnavailable(
                f"the {self._name} database failed: {describe(failure)}"
            ) from None
        self._committer.start()

    async def close(self) -> None:
        """Commit the work already accepted, then close the file."""
        await self._committer.close()
        if self._connection is not None:
            await self._on_thread(_dispose, self._connection)
            self._connection = None
        self._thread.shutdown(wait=False)

    def run(
        self, work: Grouped[Any, T] | Step[T], unavailable: Callable[[str], Exception]
    ) -> Awaitable[T]:
        """The work's result once the transaction it shared committed; a failure reaches
        the caller as `unavailable`. (The committer's own awaitable: one coroutine less
        to resume per POST.)"""
        return self._committer.run(work, unavailable)

    async def outside_transaction(self, work: Callable[[Connection], T]) -> T:
        """Work that must run between transactions (ATTACH, DETACH), on the file's thread."""
        assert self._connection is not None
        return await self._on_thread(work, self._connection)

    async def _transact(self, work: Callable[[Connection], T]) -> T:
        assert self._connection is not None
        return await self._on_thread(_in_transaction, self._connection, work)

    async def _on_thread(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)

    def _connect(self) -> Connection:
        """Runs on the file's thread: the one connection."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(f"sqlite:///{self.path}", hide_parameters=True)
        busy_ms = max(1, int(self._timeout * LOCK_WAIT_SHARE * 1000))
        event.listen(engine, "connect", sqlite_setup(busy_ms, begin=None))
        event.listen(engine, "begin", _begin_immediate)
        try:
            return engine.connect()
        except BaseException:
            engine.dispose()
            raise


def _in_transaction(connection: Connection, work: Callable[[Connection], T]) -> T:
    with connection.begin():
        return work(connection)


def _dispose(connection: Connection) -> None:
    connection.close()
    connection.engine.dispose()


def _begin_immediate(connection: Connection) -> None:
    """Take the write lock when the transaction starts, not at its first write."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")
