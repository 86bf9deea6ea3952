"""Ticket creation with group commit.

Creates that arrive while a transaction is running wait for the next one and share
it: one commit, one fsync, one multi-row INSERT per table, however many tickets. Each
ticket still goes in with its contact row and first history row, atomically, and the
whole batch is one hand-off to the database's writer thread. Where the database cannot
return the ids of a multi-row INSERT (MySQL), tickets go in one INSERT each, still in
the one transaction. When the database
refuses a batch (a bad value, or a reference that is already stored), each ticket is
retried alone, so one bad payload fails only itself, and a ticket whose reference is
already stored gets the stored ticket back (idempotent create). Retries are rare, so
the common path is an INSERT per table and a commit, and a SELECT that reads the new
tickets back as the mapping sees them when the view joins lookups or a contact table
(or the database cannot return the rows of a multi-row INSERT).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, Table, insert

from connectors.base import ConnectorError, PermanentError, Record, TransientError
from connectors.sql.database import Database
from connectors.sql.errors import database_call
from connectors.sql.records import TicketView
from connectors.sql.rows import RowsInsert
from connectors.sql.tables import Tables

MAX_BATCH = 64


@dataclass(frozen=True, slots=True)
class NewTicket:
    ticket: Record
    first_change: Record
    contact: Record
    """The ticket's contact row; none is written when it is empty."""
    reference: str
    outcome: asyncio.Future[Record]


class TicketWriter:
    def __init__(
        self, database: Database, tables: Tables, view: TicketView, *, timeout: float
    ) -> None:
        self._database = database
        self._tables = tables
        self._view = view
        self._timeout = timeout
        spec = tables.schema.tickets
        self._id = tables.tickets.c[spec.id]
        self._reference = tables.tickets.c[spec.reference]
        self._insert_tickets = insert(tables.tickets)
        self._returned = (
            tuple(column.name for column in tables.tickets.c)
            if not tables.lookups and tables.contact is None
            else None
        )
        """When the view joins nothing, the INSERT returns the records it would read back."""
        self._inserts: dict[tuple[str, tuple[str, ...], tuple[str, ...]], RowsInsert] = {}
        """The INSERT of each table, set of columns and set returned, compiled once."""
        self._queue: asyncio.Queue[NewTicket] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sql-ticket-writer")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            _settle([self._queue.get_nowait()], TransientError("the connector is closing"))

    async def create(
        self, ticket: Record, first_change: Record, contact: Record, reference: str
    ) -> Record:
        """The stored ticket; waits for the transaction that carries it."""
        if self._task is None:
            raise TransientError("the connector is not started")
        outcome: asyncio.Future[Record] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(NewTicket(ticket, first_change, contact, reference, outcome))
        return await outcome

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except asyncio.CancelledError:
                _settle(batch, TransientError("the connector is closing"))
                raise
            except Exception as bug:  # the writer must outlive a bug, and callers see it
                _settle(batch, bug)

    async def _write(self, batch: list[NewTicket]) -> None:
        batch = [new for new in batch if not new.outcome.done()]  # callers that gave up
        if not batch:
            return
        try:
            async with database_call(self._timeout):
                stored = await self._database.write(partial(self._insert, batch=batch))
        except PermanentError as refused:
            if len(batch) > 1:
                for new in batch:
                    await self._write([new])
            else:
                await self._settle_refused(batch[0], refused)
        except ConnectorError as failure:
            _settle(batch, failure)
        else:
            for new in batch:
                if not new.outcome.done():
                    new.outcome.set_result(stored[new.reference])

    async def _settle_refused(self, new: NewTicket, refused: PermanentError) -> None:
        """A lone refusal is most often a reference already stored: a retried create."""
        query = self._view.select().where(self._reference == new.reference)
        try:
            async with database_call(self._timeout):
                stored = await self._database.read(partial(self._view.read, statement=query))
        except ConnectorError as failure:
            _settle([new], failure)
            return
        if not stored:
            _settle([new], refused)
        elif not new.outcome.done():
            new.outcome.set_result(stored[0])

    def _insert(self, connection: Connection, batch: list[NewTicket]) -> dict[str, Record]:
        """Every ticket of the batch, its contact and its first change, in the caller's
        transaction; the stored tickets by reference."""
        spec = self._tables.schema
        fresh: dict[str, NewTicket] = {}
        for new in batch:
            fresh.setdefault(new.reference, new)
        tickets = [dict(new.ticket) for new in fresh.values()]
        self._view.resolve_lookups(connection, tickets)
        stored: dict[str, Record] | None = None
        if self._returned is not None and connection.dialect.insert_executemany_returning:
            rows = self._insert_records(connection, self._tables.tickets, tickets, self._returned)
            stored = {
                record[spec.tickets.reference]: record for record in map(self._view.record, rows)
            }
            ids = {reference: record[spec.tickets.id] for reference, record in stored.items()}
        else:
            ids = self._insert_ticket_rows(connection, tickets)
        first_changes = []
        for reference, new in fresh.items():
            change = {**new.first_change, spec.history.ticket: ids[reference]}
            change.setdefault(
                spec.history.time, new.ticket.get(spec.tickets.created_at) or datetime.now(UTC)
            )
            first_changes.append(change)
        self._insert_records(connection, self._tables.history, first_changes)
        if self._tables.contact is not None and spec.contact is not None:
            contacts = [
                {**new.contact, spec.contact.ticket: ids[reference]}
                for reference, new in fresh.items()
                if new.contact
            ]
            self._insert_records(connection, self._tables.contact, contacts)
        if stored is None:
            query = self._view.select().where(self._id.in_(ids.values()))
            read_back = self._view.read(connection, query)
            stored = {record[spec.tickets.reference]: record for record in read_back}
        return stored

    def _insert_ticket_rows(self, connection: Connection, tickets: list[Record]) -> dict[str, Any]:
        """The new tickets' ids by reference."""
        reference = self._tables.schema.tickets.reference
        if connection.dialect.insert_executemany_returning:
            returned = (reference, self._tables.schema.tickets.id)
            return dict(self._insert_records(connection, self._tables.tickets, tickets, returned))
        return {
            ticket[reference]: connection.execute(
                self._insert_tickets, ticket
            ).inserted_primary_key[0]
            for ticket in tickets
        }

    def _insert_records(
        self,
        connection: Connection,
        table: Table,
        records: list[Record],
        returning: tuple[str, ...] = (),
    ) -> list[tuple[Any, ...]]:
        """The records in multi-row INSERTs, one for each set of columns they fill; the
        `returning` values of each row inserted."""
        returned: list[tuple[Any, ...]] = []
        for group in _same_keys(records):
            columns = tuple(c.name for c in table.columns if c.name in group[0])  # table order
            key = (table.name, columns, returning)
            statement = self._inserts.get(key)
            if statement is None:
                statement = self._inserts[key] = RowsInsert(table, columns, returning=returning)
            rows = [tuple(record[column] for column in columns) for record in group]
            returned += statement.execute(connection, rows)
        return returned


def _same_keys(records: Iterable[Record]) -> list[list[Record]]:
    """Records grouped by their keys: one multi-row INSERT needs the same columns."""
    groups: dict[frozenset[str], list[Record]] = {}
    for record in records:
        groups.setdefault(frozenset(record), []).append(record)
    return list(groups.values())


def _settle(batch: Iterable[NewTicket], failure: Exception) -> None:
    for new in batch:
        if not new.outcome.done():
            new.outcome.set_exception(failure)
