"""Column types that take values as the gateway has them.

Open311 carries ids as text and attribute values as lists or dicts, and date-times
arrive with any zone. These types store them the way the column expects: ids as
integers, structures as JSON text, date-times in UTC (read back with their zone).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Float, Integer, Text
from sqlalchemy.types import TypeDecorator, TypeEngine


class LenientInteger(TypeDecorator[int]):
    impl = Integer
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return int(value) if isinstance(value, str) else value


class LenientFloat(TypeDecorator[float]):
    impl = Float
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


class UtcDateTime(TypeDecorator[datetime]):
    """A date-time stored in UTC; a naive one is taken as UTC, and reads come back aware.

    SQLite keeps no zone, so the UTC time is stored as is; PostgreSQL gets timestamptz.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


COLUMN_TYPES: dict[str, type[TypeEngine[Any]]] = {
    "integer": LenientInteger,
    "float": LenientFloat,
    "text": JsonText,
    "datetime": UtcDateTime,
}
