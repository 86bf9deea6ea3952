"""Column types that take values as the gateway has them.

Open311 carries ids as text and attribute values as lists or dicts, and date-times
arrive with any zone. These types store them the way the column expects: ids as
integers, structures as JSON text, date-times in UTC (read back with their zone).

Each also picks what a dialect needs where the generic type falls short: MySQL and
MariaDB would make a float single precision, drop a date-time's fractions and refuse
a key on unbounded text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Double, Integer, SmallInteger, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator, TypeEngine

MYSQL_FAMILY = ("mysql", "mariadb")
"""Dialect names of MySQL and MariaDB (a `mariadb://` URL names the second)."""

KEY_TEXT_LENGTH = 255
"""The length of a text column that is a key on MySQL/MariaDB, which index only
bounded text."""


class LenientInteger(TypeDecorator[int]):
    impl = Integer
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return int(value) if isinstance(value, str) else value


class LenientSmallInteger(LenientInteger):
    impl = SmallInteger
    cache_ok = True


class LenientFloat(TypeDecorator[float]):
    impl = Double
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return float(value) if isinstance(value, str) else value


class JsonText(TypeDecorator[str]):
    """Text; a dict or list (an attribute set, a multivaluelist) is stored as JSON."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, dict | list | tuple):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value)


class KeyText(JsonText):
    """Text that is a key (primary, unique or joined on): bounded on MySQL/MariaDB."""

    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in MYSQL_FAMILY:
            return String(KEY_TEXT_LENGTH)
        return self.impl_instance


_ZONELESS = ("sqlite", *MYSQL_FAMILY)
"""Dialects whose date-time columns keep no zone."""


class UtcDateTime(TypeDecorator[datetime]):
    """A date-time stored in UTC; a naive one is taken as UTC, and reads come back aware.

    SQLite and MySQL/MariaDB keep no zone, so the UTC time is stored as is (to the
    microsecond); PostgreSQL gets timestamptz.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in MYSQL_FAMILY:
            return mysql.DATETIME(fsp=6)
        return self.impl_instance

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        utc = _as_utc(value)
        if utc is None or dialect.name not in _ZONELESS:
            return utc
        return utc.replace(tzinfo=None)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, the text SQLAlchemy's DATETIME would store, formatted without its
        processor's per-value dict of fields (some 2 µs a value, on every row the store
        writes)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_text

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _as_utc(value: Any) -> datetime | None:
    """An aware UTC date-time from a date-time or ISO text; a naive one is taken as UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_text(value: Any) -> str | None:
    utc = _as_utc(value)
    if utc is None:
        return None
    return _SQLITE_TEXT % (
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond,
    )


_SQLITE_TEXT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"
"""SQLAlchemy's storage format for SQLite's DATETIME, filled from a tuple: a third
cheaper than `isoformat(" ", "microseconds")`, whose C code formats through the generic
`PyUnicode_FromFormat` and writes the "+00:00" that must then be cut off."""


COLUMN_TYPES: dict[str, type[TypeEngine[Any]]] = {
    "integer": LenientInteger,
    "smallint": LenientSmallInteger,
    "float": LenientFloat,
    "text": JsonText,
    "datetime": UtcDateTime,
}
