"""SOQL statements built only from escaped values and checked names.

Every value that reaches a statement goes through `literal`, which writes it as a SOQL
literal of its type: text is quoted with every character SOQL gives a meaning to
escaped (a quote or a backslash can never end the literal early), numbers must be
finite, date-times must be aware and whole seconds (Salesforce keeps no fraction).
Names (objects and fields) come from the mapping and must be plain identifiers.
No Open311 input can therefore change what a statement means: it can only be a value.

The library's own `quote_soql_value` is not used: it reads a naive date-time in the
machine's zone, writes `nan` and `inf`, and refuses decimals.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
"""An object or field name: letters, digits and underscores (custom ones end in __c)."""

_ESCAPES = str.maketrans(
    {
        "\\": "\\\\",
        "'": "\\'",
        '"': '\\"',
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
        "\b": "\\b",
        "\f": "\\f",
    }
)
"""SOQL's quoted-string escape sequences, each character that has one."""


def identifier(name: str) -> str:
    """`name` when it is a plain SOQL identifier; ValueError otherwise."""
    if not IDENTIFIER.fullmatch(name):
        raise ValueError(f"'{name}' is not a Salesforce field or object name")
    return name


def quoted(text: str) -> str:
    """Text as a SOQL string literal."""
    return "'" + text.translate(_ESCAPES) + "'"


def literal(value: object) -> str:
    """`value` as a SOQL literal of its own type; ValueError for what SOQL cannot hold."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return _number(value)
    if isinstance(value, datetime):
        return _instant(value)
    if isinstance(value, date):
        return value.isoformat()
    raise ValueError(f"a {type(value).__name__} cannot be a SOQL value")


def _number(value: float | Decimal) -> str:
    number = Decimal(repr(value)) if isinstance(value, float) else value
    if not number.is_finite():
        raise ValueError("SOQL has no literal for a number that is not finite")
    return format(number, "f")


def _instant(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a SOQL date-time needs a time zone")
    if value.microsecond:
        raise ValueError("a SOQL date-time is whole seconds")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def equals(field: str, value: object) -> str:
    return f"{identifier(field)} = {literal(value)}"


def one_of(field: str, values: Iterable[object]) -> str:
    """`field IN (...)`; ValueError for no values, which SOQL cannot write."""
    written = [literal(value) for value in values]
    if not written:
        raise ValueError("IN needs at least one value")
    return f"{identifier(field)} IN ({', '.join(written)})"


def at_least(field: str, value: object) -> str:
    return f"{identifier(field)} >= {literal(value)}"


def before(field: str, value: object) -> str:
    return f"{identifier(field)} < {literal(value)}"


@dataclass(frozen=True, slots=True)
class Select:
    """`SELECT fields FROM sobject WHERE c1 AND c2 ... ORDER BY ... LIMIT n`.

    `where` holds conditions made by the functions above, joined with AND (each is
    a single comparison, so no parentheses are needed); `order_by` pairs a field with
    True for descending.
    """

    fields: Sequence[str]
    sobject: str
    where: Sequence[str] = ()
    order_by: Sequence[tuple[str, bool]] = ()
    limit: int | None = None

    def __str__(self) -> str:
        parts = [
            f"SELECT {', '.join(map(identifier, self.fields))} FROM {identifier(self.sobject)}"
        ]
        if self.where:
            parts.append("WHERE " + " AND ".join(self.where))
        if self.order_by:
            order = (
                f"{identifier(field)} {'DESC' if descending else 'ASC'}"
                for field, descending in self.order_by
            )
            parts.append("ORDER BY " + ", ".join(order))
        if self.limit is not None:
            parts.append(f"LIMIT {int(self.limit)}")
        return " ".join(parts)
