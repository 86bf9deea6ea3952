"""Type conversions: the `convert` modifier, and values made to fit Open311 fields.

`convert` takes int, decimal, float, bool, str, datetime or date. Numbers must be
finite and whole where a whole number is asked for; bool reads true/false/yes/no/1/0
in any case; str writes bools as true/false and date-times in ISO 8601.

Date-times: `format` (strptime/strftime directives) and `timezone` (an IANA name,
UTC by default) describe how the BACKEND writes them. A naive date-time is in
`timezone`. Read from a backend, text is parsed with `format` (ISO 8601 without it)
and the result is always an aware UTC datetime. Written to a backend, the Open311
side's text is ISO 8601; with `format` the value is converted to `timezone` and
written as text in that format, without it it is an aware UTC datetime.

Every failure is a `MappingError` that names the value's type, never its content,
which may be personal data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from gateway.mapping.errors import MappingError
from gateway.mapping.timeformats import text_parser, text_writer
from gateway.mapping.values import NUMBERS, kind_of

Transform = Callable[[Any], Any]
ConvertType = Literal["int", "decimal", "float", "bool", "str", "datetime", "date"]

DATE_TYPES = frozenset({"datetime", "date"})
MAX_INT_DIGITS = 4300
"""Python's own limit on int <-> text; a longer number is refused, not expanded."""

_TEXT_OR_NUMBERS = (str, *NUMBERS)
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


def as_text(value: Any) -> str:
    """Text for an Open311 text field: text as it is, numbers written out. One frame:
    it runs per text field whose backend value is a number (ids, mostly)."""
    if isinstance(value, str):
        return value
    if isinstance(value, NUMBERS) and not isinstance(value, bool):
        try:
            return str(value)
        except ValueError:  # an int beyond Python's digit limit
            raise MappingError("a number too long to write as text") from None
    raise MappingError(f"{kind_of(value)} is not text")


Parse = Callable[[str], datetime]
ISO_8601: Parse = datetime.fromisoformat
"""One object, so that it is recognised by identity (each lookup of the classmethod
makes a new bound method)."""


def _instants(zone: tzinfo, parse: Parse, into: tzinfo) -> Callable[[Any], datetime]:
    """A function giving an aware datetime in `into` for a datetime, a date or text
    (read by `parse`); a naive date-time is in `zone`. One frame: it runs per record."""
    expected = "ISO 8601" if parse is ISO_8601 else "the format"

    def instant(value: Any) -> datetime:
        if value.__class__ is datetime:  # the usual value, at the cost of one comparison
            pass
        elif isinstance(value, str):
            try:
                value = parse(value)
            except ValueError:
                raise MappingError(f"text that is not a date-time in {expected}") from None
        elif not isinstance(value, datetime):
            if not isinstance(value, date):
                raise MappingError(f"{kind_of(value)} is not a date-time")
            value = datetime(value.year, value.month, value.day)
        if value.tzinfo is None:
            value = datetime.combine(value.date(), value.time(), zone)  # faster than replace
        try:
            return value.astimezone(into)
        except (OverflowError, ValueError):
            raise MappingError("a date-time out of range") from None

    return instant


_utc_instant = _instants(UTC, ISO_8601, UTC)


def as_instant(value: Any) -> datetime:
    """A date-time for an Open311 field: aware, in UTC; naive backends store UTC."""
    if value.__class__ is datetime and value.tzinfo is UTC:
        return value
    return _utc_instant(value)


def _to_int(value: Any) -> int:
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise MappingError("text that is not a whole number cannot be an int") from None
    if isinstance(value, bool):
        raise MappingError("a bool cannot be an int")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        if value.adjusted() >= MAX_INT_DIGITS:
            raise MappingError("a number too long for an int")
        return int(value)
    if isinstance(value, float | Decimal):
        raise MappingError(f"{kind_of(value)} that is not a whole number cannot be an int")
    raise MappingError(f"{kind_of(value)} cannot be an int")


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise MappingError("text that is not a number cannot be a decimal") from None
    elif isinstance(value, NUMBERS) and not isinstance(value, bool):
        number = Decimal(value)
    else:
        raise MappingError(f"{kind_of(value)} cannot be a decimal")
    if not number.is_finite():
        raise MappingError("a number that is not finite cannot be a decimal")
    return number


def _to_float(value: Any) -> float:
    if not isinstance(value, _TEXT_OR_NUMBERS) or isinstance(value, bool):
        raise MappingError(f"{kind_of(value)} cannot be a float")
    try:
        number = float(value)
    except ValueError:
        raise MappingError(f"{kind_of(value)} that is not a number cannot be a float") from None
    except OverflowError:
        raise MappingError("a number too large for a float") from None
    if not math.isfinite(number):
        raise MappingError("a number that is not finite cannot be a float")
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise MappingError("text that is not true/false/yes/no/1/0 cannot be a bool")
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    raise MappingError(f"{kind_of(value)} cannot be a bool")


def to_text(value: Any) -> str:
    """A value as text: booleans as true/false, dates in ISO 8601, numbers as written."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return as_text(value)


def _writer(write: Callable[[datetime], str], instant: Callable[[Any], datetime]) -> Transform:
    def written(value: Any) -> str:
        moment = instant(value)
        try:
            return write(moment)
        except ValueError:
            raise MappingError("a date-time that the format cannot write") from None

    return written


def _datetime_converter(zone: tzinfo, format: str | None, reads_backend: bool) -> Transform:
    if format is None:
        return _instants(zone, ISO_8601, UTC)
    if reads_backend:
        return _instants(zone, text_parser(format), UTC)
    return _writer(text_writer(format), _instants(zone, ISO_8601, zone))


def _date_converter(zone: tzinfo, format: str | None, reads_backend: bool) -> Transform:
    parse = text_parser(format) if reads_backend and format is not None else ISO_8601
    instant = _instants(zone, parse, zone)

    def to_date(value: Any) -> date:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        return instant(value).date()

    if reads_backend or format is None:
        return to_date
    return _writer(text_writer(format), lambda value: datetime.combine(to_date(value), time()))


_SIMPLE: dict[str, Transform] = {
    "int": _to_int,
    "decimal": _to_decimal,
    "float": _to_float,
    "bool": _to_bool,
    "str": to_text,
}


def converter(
    to: ConvertType, *, zone: tzinfo, format: str | None, reads_backend: bool
) -> Transform:
    """The function converting one value, chosen once when the mapping is compiled."""
    if to == "datetime":
        return _datetime_converter(zone, format, reads_backend)
    if to == "date":
        return _date_converter(zone, format, reads_backend)
    return _SIMPLE[to]


def gives_text(to: ConvertType, format: str | None, reads_backend: bool) -> bool:
    """Whether a conversion's result is text (so that `truncate` can cut it)."""
    return to == "str" or (to in DATE_TYPES and format is not None and not reads_backend)
