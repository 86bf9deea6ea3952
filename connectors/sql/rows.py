"""Statements compiled by SQLAlchemy once and run through the driver, for the writes
that run on every POST (the gateway's group commits, the SQL connector's batches of
tickets): on such small statements SQLAlchemy's execution (a cache key per call,
per-row parameter processing) cost more than the database's own work.

`RowsInsert` inserts a batch's rows with one statement (`INSERT ... VALUES (...),
(...)`). An executemany steps the database once per row, and on SQLite each step hands
the GIL to the event loop and takes it back, which costs up to a switch interval while
the loop is busy: a batch's commit waited on those hand-offs more than on its fsync.
Each row a statement returns is such a step too, so a statement that needs no values
back says how many rows went in (`RowsInsert.inserted`, the driver's row count).
Each value still goes through its column's own bind processor, and each value it
returns (`RETURNING`) through its column's result processor. Rows whose unique key is
already stored may be skipped: one statement both checks and inserts. `RowsDelete`
deletes a batch's rows by their key in one statement, returning which were there;
`RowsUpdate` gives each of a batch's rows its own values in one statement (SQLite).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import (
    Connection,
    CursorResult,
    Dialect,
    Executable,
    Insert,
    Table,
    and_,
    bindparam,
    column,
    delete,
    insert,
    or_,
    update,
    values,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import StatementError

Processor = Callable[[Any], Any]

MAX_PARAMETERS = 999
"""Parameters per statement at most: what every SQLite takes (newer ones take 32,766)."""


class _RowsStatement(ABC):
    """One statement per batch of rows, given as tuples in the order of `columns` (which
    follow the table's own order, as SQLAlchemy writes them): each value through its
    column's bind processor, and the statement compiled once for each number of rows
    (split where the parameters would pass the limit)."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self._table = table
        self._columns = tuple(columns)
        self._chunk = MAX_PARAMETERS // len(self._columns)
        self._statement = lru_cache(maxsize=None)(self._compile)
        self._processors = lru_cache(maxsize=None)(self._processors_for)

    def _results(
        self, connection: Connection, rows: Sequence[tuple[Any, ...]]
    ) -> Iterator[CursorResult[Any]]:
        dialect = connection.dialect
        processors = self._processors(dialect)
        width = len(self._columns)
        if any(len(row) != width for row in rows):
            raise ValueError(f"a row for {self._table.name} does not have {width} values")
        for start in range(0, len(rows), self._chunk):
            chunk = rows[start : start + self._chunk]
            parameters = list(chain.from_iterable(chunk))
            statement = self._statement(dialect, len(chunk))
            try:
                for position, process in processors:  # a column at a time, at C speed
                    parameters[position::width] = map(process, parameters[position::width])
            except Exception as exc:  # a value its column cannot take, as SQLAlchemy says
                raise StatementError(str(exc), statement, None, exc, hide_parameters=True) from exc
            yield connection.exec_driver_sql(statement, tuple(parameters))

    def _processors_for(self, dialect: Dialect) -> tuple[tuple[int, Processor], ...]:
        """(position, processor) of each column whose type converts values."""
        found = (
            (position, self._table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
            for position, name in enumerate(self._columns)
        )
        return tuple((position, process) for position, process in found if process is not None)

    def _compile(self, dialect: Dialect, rows: int) -> str:
        """The statement for `rows` rows, its parameters row by row in column order."""
        names = [
            [f"r{row}_{position}" for position in range(len(self._columns))] for row in range(rows)
        ]
        bound = [
            {name: bindparam(bind) for name, bind in zip(self._columns, row, strict=True)}
            for row in names
        ]
        statement = self._statement_for(dialect, bound)
        return positional_sql(statement, dialect, list(chain.from_iterable(names)))

    @abstractmethod
    def _statement_for(self, dialect: Dialect, rows: list[dict[str, Any]]) -> Executable:
        """The statement for these rows, each a dict of column name to bound parameter."""


class RowsInsert(_RowsStatement):
    """`returning` names columns to read back from each row inserted (SQLite and
    PostgreSQL). `skip_conflicts_on` names a unique key: a row whose key is stored
    already (or comes earlier in the same call) is skipped; only the rows that went in
    are returned, or counted.
    """

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        *,
        prefix: str | None = None,
        skip_conflicts_on: Sequence[str] = (),
        returning: Sequence[str] = (),
    ) -> None:
        super().__init__(table, columns)
        self._prefix = prefix
        self._conflict_key = tuple(skip_conflicts_on)
        self._returning = tuple(table.c[name] for name in returning)
        self._readers = lru_cache(maxsize=None)(self._readers_for)

    def execute(
        self, connection: Connection, rows: Sequence[tuple[Any, ...]]
    ) -> list[tuple[Any, ...]]:
        """The `returning` values of each row inserted, in `returning` order; empty when
        nothing is returned."""
        inserted: list[tuple[Any, ...]] = []
        for result in self._results(connection, rows):
            if not self._returning:
                continue
            driver_types = tuple(column[1] for column in result.cursor.description)
            readers = self._readers(connection.dialect, driver_types)
            if any(readers):
                inserted.extend(_read(row, readers) for row in result)
            else:
                inserted.extend(map(tuple, result))
        return inserted

    def inserted(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> int:
        """How many of the rows went in (a skipped conflict does not count), for a
        statement that returns nothing: one step of the database for the whole batch."""
        if self._returning:
            raise ValueError("a statement that returns values runs with `execute`")
        return sum(result.rowcount for result in self._results(connection, rows))

    def _readers_for(
        self, dialect: Dialect, driver_types: tuple[Any, ...]
    ) -> tuple[Processor | None, ...]:
        """The result processor of each returned column, for the type the driver says it
        returns (None: the value is taken as the driver gives it)."""
        return tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, driver_type)
            for column, driver_type in zip(self._returning, driver_types, strict=True)
        )

    def _statement_for(self, dialect: Dialect, rows: list[dict[str, Any]]) -> Executable:
        statement = self._insert(dialect).values(rows)
        if self._prefix is not None:
            statement = statement.prefix_with(self._prefix)
        if self._returning:
            statement = statement.returning(*self._returning)
        return statement

    def _insert(self, dialect: Dialect) -> Insert:
        if not self._conflict_key:
            return insert(self._table)
        if dialect.name == "postgresql":
            upsert = postgresql.insert(self._table)
        elif dialect.name == "sqlite":
            upsert = sqlite.insert(self._table)
        else:
            raise NotImplementedError(f"{dialect.name} cannot skip conflicting rows")
        return upsert.on_conflict_do_nothing(index_elements=self._conflict_key)


def _read(row: Sequence[Any], readers: Sequence[Processor | None]) -> tuple[Any, ...]:
    return tuple(
        value if read is None else read(value) for value, read in zip(row, readers, strict=True)
    )


class RowsDelete(_RowsStatement):
    """Deletes the rows whose `columns` hold one of the given tuples: one statement per
    batch (`WHERE a = ? AND b = ? OR a = ? AND b = ? ...`, each term a lookup when the
    first column is indexed) that returns the tuple of each row it deleted, as the driver
    reads it."""

    def execute(
        self, connection: Connection, keys: Sequence[tuple[Any, ...]]
    ) -> list[tuple[Any, ...]]:
        return [tuple(row) for result in self._results(connection, keys) for row in result]

    def _statement_for(self, dialect: Dialect, rows: list[dict[str, Any]]) -> Executable:
        matches = (
            and_(*(self._table.c[name] == value for name, value in row.items())) for row in rows
        )
        returned = [self._table.c[name] for name in self._columns]
        return delete(self._table).where(or_(*matches)).returning(*returned)


class RowsUpdate(_RowsStatement):
    """Sets the other `columns` of the rows picked by the first, each row to its own
    values, in one statement (`WITH given (...) AS (VALUES (...), ...) UPDATE ... FROM
    given`) that returns the first column of each row it updated. SQLite only:
    PostgreSQL types a VALUES list's parameters as text, which a date-time column
    refuses. A key given twice updates its row with one of the two, either."""

    def execute(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> list[Any]:
        return [row[0] for result in self._results(connection, rows) for row in result]

    def _statement_for(self, dialect: Dialect, rows: list[dict[str, Any]]) -> Executable:
        if dialect.name != "sqlite":
            raise NotImplementedError(f"{dialect.name} cannot take a batch's rows as VALUES")
        key, *changed = self._columns
        given = (
            values(*(column(name) for name in self._columns), name="given")
            .data([tuple(row[name] for name in self._columns) for row in rows])
            .cte("given")
        )
        return (
            update(self._table)
            .values({name: given.c[name] for name in changed})
            .where(self._table.c[key] == given.c[key])
            .returning(self._table.c[key])
        )


def positional_sql(statement: Executable, dialect: Dialect, names: Sequence[str]) -> str:
    """The statement's SQL for the dialect, taking the values of its bound parameters
    `names` as a tuple, in that order."""
    compiled = statement.compile(dialect=dialect)
    if list(compiled.positiontup or ()) != list(names):
        raise RuntimeError(f"{dialect.name} orders the statement's parameters otherwise")
    return compiled.string
