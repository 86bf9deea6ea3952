"""RowsInsert, RowsDelete and RowsUpdate: a batch's rows in as few statements as the parameter limit
allows, each value through its column's bind processor, on a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    select,
)
from sqlalchemy.exc import StatementError

from connectors.sql.rows import MAX_PARAMETERS, RowsDelete, RowsInsert, RowsUpdate
from gateway.queue.schema import UtcMicros

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("name", String(20), nullable=False, unique=True),
    Column("at", UtcMicros, nullable=False),
    Column("note", String(20), nullable=True),
)
START = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


@pytest.fixture
def connection(tmp_path: Path):
    engine = create_engine(f"sqlite:///{tmp_path / 'rows.db'}")
    statements: list[str] = []
    event.listen(
        engine, "before_cursor_execute", lambda *args: statements.append(args[2]), named=False
    )
    metadata.create_all(engine)
    with engine.connect() as connection:
        connection.info["statements"] = statements
        yield connection
    engine.dispose()


def rows(count: int, offset: int = 0) -> list[tuple[str, datetime, str | None]]:
    return [
        (f"n{offset + i}", START + timedelta(microseconds=offset + i), None if i % 2 else "x")
        for i in range(count)
    ]


def stored(connection: Connection) -> list[tuple[str, datetime, str | None]]:
    found = connection.execute(select(things.c.name, things.c.at, things.c.note).order_by("seq"))
    return [tuple(row) for row in found]


def inserts(connection: Connection) -> list[str]:
    return [s for s in connection.info["statements"] if s.startswith("INSERT")]


def test_a_batch_is_one_statement_and_reads_back_as_given(connection: Connection) -> None:
    insert = RowsInsert(things, ("name", "at", "note"))
    with connection.begin():
        insert.execute(connection, rows(5))
    assert stored(connection) == rows(5)
    assert len(inserts(connection)) == 1


def test_a_batch_past_the_parameter_limit_is_split(connection: Connection) -> None:
    insert = RowsInsert(things, ("name", "at", "note"))
    per_statement = MAX_PARAMETERS // 3
    with connection.begin():
        insert.execute(connection, rows(per_statement * 2 + 1))
    assert stored(connection) == rows(per_statement * 2 + 1)
    assert len(inserts(connection)) == 3


def test_the_prefix_applies_to_every_row(connection: Connection) -> None:
    insert = RowsInsert(things, ("name", "at", "note"), prefix="OR IGNORE")
    with connection.begin():
        insert.execute(connection, rows(3))
        insert.execute(connection, rows(4))  # the first three are there: only n3 goes in
    assert stored(connection) == rows(4)


def test_without_the_prefix_a_conflict_fails_the_whole_statement(connection: Connection) -> None:
    insert = RowsInsert(things, ("name", "at", "note"))
    with connection.begin():
        insert.execute(connection, rows(2))
    with pytest.raises(Exception, match="UNIQUE"), connection.begin():
        insert.execute(connection, rows(3))
    assert stored(connection) == rows(2)


def test_a_row_of_the_wrong_width_is_refused(connection: Connection) -> None:
    insert = RowsInsert(things, ("name", "at", "note"))
    with pytest.raises(ValueError), connection.begin():
        insert.execute(connection, [("n0", START)])
    assert stored(connection) == []


def test_rows_whose_key_is_stored_or_taken_earlier_are_skipped(connection: Connection) -> None:
    insert = RowsInsert(
        things, ("name", "at", "note"), skip_conflicts_on=("name",), returning=("seq",)
    )
    with connection.begin():
        assert sorted(insert.execute(connection, rows(2))) == [(1,), (2,)]
        again = [*rows(1), *rows(1, offset=5), *rows(1, offset=5)]  # n0 stored; n5 twice
        assert insert.execute(connection, again) == [(3,)]
    assert [name for name, _, _ in stored(connection)] == ["n0", "n1", "n5"]


def test_returned_values_are_read_as_their_columns_read_them(connection: Connection) -> None:
    insert = RowsInsert(things, ("name", "at", "note"), returning=("at", "seq", "note"))
    with connection.begin():
        returned = insert.execute(connection, rows(3))
    assert sorted(returned, key=lambda row: row[1]) == [
        (at, seq, note) for seq, (_, at, note) in enumerate(rows(3), start=1)
    ]  # `at` is stored as integer microseconds, and returned as the date-time it was


def test_a_value_its_column_cannot_take_fails_as_sqlalchemy_reports_it(
    connection: Connection,
) -> None:
    insert = RowsInsert(things, ("name", "at", "note"))
    with pytest.raises(StatementError), connection.begin():
        insert.execute(connection, [*rows(1), ("n9", "not a date-time", None)])
    assert stored(connection) == []


def test_rows_that_went_in_are_counted_without_returning_any(connection: Connection) -> None:
    insert = RowsInsert(things, ("name", "at", "note"), skip_conflicts_on=("name",))
    with connection.begin():
        assert insert.inserted(connection, rows(2)) == 2
        again = [*rows(1), *rows(1, offset=5), *rows(1, offset=5)]  # n0 stored; n5 twice
        assert insert.inserted(connection, again) == 1
        per_statement = MAX_PARAMETERS // 3
        assert insert.inserted(connection, rows(per_statement + 1, offset=10)) == per_statement + 1
    assert len(stored(connection)) == 3 + per_statement + 1
    assert not any("RETURNING" in statement for statement in inserts(connection))


def test_a_statement_that_returns_values_is_not_counted(connection: Connection) -> None:
    insert = RowsInsert(things, ("name", "at", "note"), returning=("seq",))
    with pytest.raises(ValueError, match="runs with `execute`"):
        insert.inserted(connection, rows(1))


def deletes(connection: Connection) -> list[str]:
    return [s for s in connection.info["statements"] if s.startswith("DELETE")]


def test_a_batch_deletes_the_rows_matching_every_column_in_one_statement(
    connection: Connection,
) -> None:
    with connection.begin():
        RowsInsert(things, ("name", "at", "note")).execute(connection, rows(4))
        found = RowsDelete(things, ("name", "note")).execute(
            connection, [("n0", "x"), ("n1", "x"), ("n2", "x"), ("n9", "x")]
        )
    assert sorted(found) == [("n0", "x"), ("n2", "x")]  # n1's note is NULL; no n9
    assert [name for name, _, _ in stored(connection)] == ["n1", "n3"]
    assert len(deletes(connection)) == 1


def test_a_delete_past_the_parameter_limit_is_split(connection: Connection) -> None:
    count = MAX_PARAMETERS // 2 * 2 + 1
    with connection.begin():
        RowsInsert(things, ("name", "at", "note")).execute(connection, rows(count))
        keys = [(name, at) for name, at, _ in rows(count)]
        found = RowsDelete(things, ("name", "at")).execute(connection, keys)
    assert len(found) == count and stored(connection) == []
    assert len(deletes(connection)) == 3


def test_a_batch_sets_each_rows_own_values_in_one_statement(connection: Connection) -> None:
    later = START + timedelta(days=1)
    with connection.begin():
        RowsInsert(things, ("name", "at", "note")).execute(connection, rows(3))
        found = RowsUpdate(things, ("name", "at", "note")).execute(
            connection, [("n0", later, "first"), ("n2", later, None), ("n9", later, "none")]
        )
    assert sorted(found) == ["n0", "n2"]
    assert stored(connection) == [("n0", later, "first"), rows(3)[1], ("n2", later, None)]
    assert len([s for s in connection.info["statements"] if "UPDATE" in s]) == 1
