"""Tickets as records: a ticket's row with the rows joined to it.

A ticket's record holds its columns, each lookup's row under the lookup's name (None
when its column names no row) and, when the backend has a contact table, the ticket's
first contact row under `contact`. Fields of joined rows are addressed as paths
(`category.code`), in searches as in the mapping.

Written, a lookup's key names the row by one of its columns
(`category: {code: RD-POT}`) and the ticket gets that row's id: the mapping need not
know the back office's numeric ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Connection, FromClause, Select, Table, and_, func, select
from sqlalchemy.sql.elements import ColumnElement

from connectors.base import PermanentError, Record
from connectors.sql.schema import CONTACT_KEY, LOOKED_UP_TYPES
from connectors.sql.tables import Tables


class TicketView:
    """The joined select of ticket records, built once from the tables."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables
        schema = tables.schema
        tickets = tables.tickets
        self.id_column: Column[Any] = tickets.c[schema.tickets.id]
        source: FromClause = tickets
        parts: list[tuple[str | None, Table, str]] = [(None, tickets, schema.tickets.id)]
        for name, lookup in tables.lookups.items():
            spec = schema.lookups[name]
            source = source.outerjoin(lookup, lookup.c[spec.id] == tickets.c[spec.ticket_column])
            parts.append((name, lookup, spec.id))
        if tables.contact is not None and schema.contact is not None:
            contact, spec = tables.contact, schema.contact
            others = contact.alias(f"{contact.name}_other")
            first = (
                select(func.min(others.c[spec.id]))
                .where(others.c[spec.ticket] == self.id_column)
                .scalar_subquery()
            )
            source = source.outerjoin(
                contact,
                and_(contact.c[spec.ticket] == self.id_column, contact.c[spec.id] == first),
            )
            parts.append((CONTACT_KEY, contact, spec.id))
        self.source = source
        self.columns = [column for _, table, _ in parts for column in table.c]
        self._select = select(*self.columns).select_from(source)
        self._tickets = tickets
        self._joined = {key: table for key, table, _ in parts if key is not None}
        self._layout = [
            (key, tuple(table.c.keys()), table.c.keys().index(id_name))
            for key, table, id_name in parts
        ]

    def select(self) -> Select[Any]:
        """The select of every record, built once: a statement is never changed in place
        (`where` and the like return a copy), and building this one column by column cost
        a tenth of a GET requests."""
        return self._select

    def record(self, row: Sequence[Any]) -> Record:
        """The record of one row of `select()` (or of a select ending with its columns)."""
        start = len(row) - len(self.columns)
        record: Record = {}
        for key, names, id_position in self._layout:
            values = row[start : start + len(names)]
            start += len(names)
            if key is None:
                record.update(zip(names, values, strict=True))
            else:
                joined = values[id_position] is not None
                record[key] = dict(zip(names, values, strict=True)) if joined else None
        return record

    def read(
        self,
        connection: Connection,
        statement: Select[Any],
        params: Mapping[str, Any] | None = None,
    ) -> list[Record]:
        return [self.record(row) for row in connection.execute(statement, params)]

    def field(self, path: str) -> ColumnElement[Any]:
        """The column a record's field comes from: `column`, or `lookup.column`."""
        key, _, name = path.partition(".")
        table = self._joined.get(key)
        if table is None:
            table, name = self._tickets, path
        if name not in table.c:
            raise PermanentError(f"table '{table.name}' has no column '{name}'")
        return table.c[name]

    def resolve_lookups(self, connection: Connection, tickets: Iterable[Record]) -> None:
        """Replace in each ticket every lookup's key by the id of the row it names, found
        in this transaction; PermanentError when no row, or several, have that value."""
        pending: dict[tuple[str, str], list[Record]] = {}
        for ticket in tickets:
            for name in self._tables.lookups:
                if name in ticket:
                    pending.setdefault((name, self._looked_up_by(ticket, name)), []).append(ticket)
        for (name, column), waiting in pending.items():
            ids = self._ids_by_value(connection, name, column, [t[name][column] for t in waiting])
            target = self._tables.schema.lookups[name].ticket_column
            for ticket in waiting:
                ticket[target] = ids[str(ticket.pop(name)[column])]

    def _looked_up_by(self, ticket: Record, name: str) -> str:
        spec = self._tables.schema.lookups[name]
        given = ticket[name]
        if not isinstance(given, dict) or len(given) != 1:
            raise PermanentError(f"'{name}' must name its row by one column")
        [column] = given
        if spec.columns.get(column) not in LOOKED_UP_TYPES:
            raise PermanentError(f"'{name}' cannot name its row by '{column}'")
        if spec.ticket_column in ticket:
            raise PermanentError(f"give either '{name}' or '{spec.ticket_column}', not both")
        return column

    def _ids_by_value(
        self, connection: Connection, name: str, column: str, values: list[Any]
    ) -> dict[str, Any]:
        lookup, spec = self._tables.lookups[name], self._tables.schema.lookups[name]
        wanted = {str(value) for value in values}
        found: dict[str, list[Any]] = {}
        statement = select(lookup.c[column], lookup.c[spec.id]).where(
            lookup.c[column].in_(sorted(wanted))
        )
        for value, row_id in connection.execute(statement):
            found.setdefault(str(value), []).append(row_id)
        for value in sorted(wanted):
            rows = found.get(value, [])
            if len(rows) != 1:
                how_many = "no row" if not rows else "several rows"
                raise PermanentError(
                    f"{name}: {how_many} of '{lookup.name}' with {column} {value!r}"
                )
        return {value: rows[0] for value, rows in found.items()}
