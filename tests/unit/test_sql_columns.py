"""Column types: what they store for each dialect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, MetaData, Table, create_engine, insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import DateTime

from connectors.sql.columns import UtcDateTime

SQLITE = sqlite.dialect()
PARIS_SUMMER = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 25, 4, 36, 22, 434688, tzinfo=UTC),
        datetime(2026, 7, 1, 14, 0, tzinfo=PARIS_SUMMER),  # no microseconds
        datetime(2026, 3, 29, 1, 30, 5),  # naive: taken as UTC
        datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a year under four digits
        "2026-11-25T05:36:22.5+01:00",
        None,
    ],
)
def test_sqlite_stores_the_text_sqlalchemys_datetime_would(value: object) -> None:
    column = UtcDateTime()
    generic = DateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert generic is not None
    utc = column.process_bind_param(value, SQLITE)
    expected = None if utc is None else generic(utc)
    processor = column.bind_processor(SQLITE)
    assert processor is not None
    assert processor(value) == expected


def test_a_datetime_written_to_sqlite_reads_back_the_same_instant() -> None:
    table = Table("stamps", MetaData(), Column("at", UtcDateTime))
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    written = datetime(2026, 7, 1, 14, 0, 0, 250, tzinfo=PARIS_SUMMER)
    with engine.begin() as connection:
        connection.execute(insert(table), {"at": written})
        (read,) = connection.execute(select(table.c.at)).scalars()
    assert read == written and read.tzinfo is UTC
    engine.dispose()
