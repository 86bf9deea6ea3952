"""Many callers' database work shared in one transaction (group commit).

Work that arrives while a transaction runs waits for the next one and shares it: one
hand-off to the database, one commit and one fsync for the whole batch. Items of the
same grouped step (`Grouped`) reach that step together, so a batch of inserts is one
multi-row statement. Each caller's future is resolved only after the commit returned;
when the batch fails, every caller in it gets the owner's "unavailable" error and
nothing of the batch is written.

The owner says how a transaction runs (`transact`): the embedded queue on its own
connection and thread, the store through its `Database`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from connectors.sql.errors import first_line

T = TypeVar("T")
Item = TypeVar("Item")
Result = TypeVar("Result")

DATABASE_FAILURES = (SQLAlchemyError, sqlite3.Error, OSError)
"""What a database (or its disk) raises; anything else is a bug and reaches callers as is."""

Step = Callable[[Connection, datetime], T]
"""Work done inside a shared transaction, given the batch's `now`."""

GroupStep = Callable[[Connection, datetime, list[Item]], list[Result]]
"""Work on every item of a batch at once; returns one outcome per item, in order."""

Transact = Callable[[Callable[[Connection], list[Any]]], Awaitable[list[Any]]]
"""Runs a function of a connection in one committed transaction."""


@dataclass(frozen=True, slots=True)
class Grouped(Generic[Item, Result]):
    """One item for `step`; every item of a batch for the same step goes in one call."""

    step: GroupStep[Item, Result]
    item: Item


@dataclass(frozen=True, slots=True)
class _Pending:
    work: Grouped[Any, Any] | Step[Any]
    outcome: asyncio.Future[Any]
    unavailable: Callable[[str], Exception]
    """What this caller hears when the batch fails: callers of several owners (a store
    and a queue sharing one file) may share a batch."""


class GroupCommitter:
    """One start and one close: the loop is not restarted."""

    def __init__(
        self,
        transact: Transact,
        *,
        clock: Callable[[], datetime],
        timeout: float,
        max_batch: int,
        unavailable: Callable[[str], Exception],
        name: str,
    ) -> None:
        self._transact = transact
        self._clock = clock
        self._timeout = timeout
        self._max_batch = max_batch
        self._unavailable = unavailable
        self._name = name
        self._inbox: list[_Pending] = []
        self._arrived = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.commits = 0
        """Transactions committed: how many batches the work shared, for tests and figures."""

    def start(self) -> None:
        self._task = asyncio.create_task(self._commit_loop(), name=f"{self._name}-group-commit")

    async def close(self) -> None:
        """Commit the work already accepted, then refuse more."""
        self._closing = True
        if self._task is not None:
            self._arrived.set()
            await self._task
            self._task = None

    async def run(
        self,
        work: Grouped[Any, T] | Step[T],
        unavailable: Callable[[str], Exception] | None = None,
    ) -> T:
        """The work's result once its transaction committed, within the timeout: a caller
        waits for the batch in flight, then for its own, each bounded by half of it (one
        timer per batch, not one per caller). A failure reaches the caller as
        `unavailable` (by default the committer's own)."""
        unavailable = unavailable or self._unavailable
        if self._task is None or self._closing:
            raise unavailable(f"the {self._name} is not running")
        outcome: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inbox.append(_Pending(work, outcome, unavailable))
        self._arrived.set()
        return await outcome

    async def _commit_loop(self) -> None:
        while self._inbox or not self._closing:
            if not self._inbox:
                self._arrived.clear()
                await self._arrived.wait()
                await asyncio.sleep(0)  # the callers ready in this turn of the loop join in
                continue
            batch = self._inbox[: self._max_batch]
            del self._inbox[: self._max_batch]
            batch = [pending for pending in batch if not pending.outcome.done()]  # gave up
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        works = [pending.work for pending in batch]
        now = self._clock()
        try:
            async with asyncio.timeout(self._timeout / 2):
                results = await self._transact(lambda connection: _run(connection, now, works))
        except TimeoutError:
            _fail(batch, f"the {self._name} did not answer within {self._timeout:g} s")
        except DATABASE_FAILURES as failure:
            _fail(batch, f"the {self._name} database failed: {describe(failure)}")
        except Exception as bug:  # the loop must outlive a bug, and the callers see it
            _fail(batch, bug)
        else:
            self.commits += 1
            for pending, result in zip(batch, results, strict=True):
                if not pending.outcome.done():
                    pending.outcome.set_result(result)


def _run(
    connection: Connection, now: datetime, works: list[Grouped[Any, Any] | Step[Any]]
) -> list[Any]:
    """The whole batch inside the caller's transaction: grouped steps first, in the
    order each first appeared, then single steps in arrival order."""
    groups: dict[GroupStep[Any, Any], list[int]] = {}
    for index, work in enumerate(works):
        if isinstance(work, Grouped):
            groups.setdefault(work.step, []).append(index)
    results: list[Any] = [None] * len(works)
    for step, indices in groups.items():
        items = [works[index].item for index in indices]  # type: ignore[union-attr]
        for index, result in zip(indices, step(connection, now, items), strict=True):
            results[index] = result
    for index, work in enumerate(works):
        if not isinstance(work, Grouped):
            results[index] = work(connection, now)
    return results


def describe(failure: Exception) -> str:
    """The driver's own message (its first line); never the SQL parameters."""
    if isinstance(failure, SQLAlchemyError):
        return first_line(failure)
    return str(failure)


def _fail(batch: list[_Pending], failure: str | Exception) -> None:
    """Every caller's failure: a message as the caller's own "unavailable", a bug as is."""
    for pending in batch:
        if not pending.outcome.done():
            error = pending.unavailable(failure) if isinstance(failure, str) else failure
            pending.outcome.set_exception(error)
