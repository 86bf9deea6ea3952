"""SOQL quoting, proved against a real parser of SOQL (the simulator's): whatever a value
holds, it comes back whole as one literal, and the statement keeps its shape."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.salesforce import soql
from connectors.testing.salesforce.soql import (
    Comparison,
    Junction,
    Membership,
    Order,
    Query,
    SoqlError,
    parse,
)

SOQLISH = st.text(alphabet=st.sampled_from("'\"\\%_ \n\r\t\b\f()=,<>!ORANDorand-;ü"), max_size=30)
"""Text made mostly of what SOQL gives a meaning to."""
ANY_TEXT = st.text() | SOQLISH
INSTANTS = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(9998, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))


def where(condition: str, *more: str) -> object:
    return parse(str(soql.Select(["Id"], "Case", [condition, *more]))).where


@given(ANY_TEXT)
def test_any_text_is_one_literal(text: str) -> None:
    assert where(soql.equals("Subject", text)) == Comparison("Subject", "=", text)


@given(ANY_TEXT, ANY_TEXT)
def test_text_cannot_swallow_or_add_conditions(first: str, second: str) -> None:
    parsed = where(soql.equals("Subject", first), soql.equals("Status", second))
    assert parsed == Junction(
        "AND", (Comparison("Subject", "=", first), Comparison("Status", "=", second))
    )


@given(st.lists(ANY_TEXT, min_size=1, max_size=5))
def test_lists_are_one_literal_each(values: list[str]) -> None:
    assert where(soql.one_of("Type", values)) == Membership("Type", tuple(values))


@given(st.integers() | st.decimals(allow_nan=False, allow_infinity=False))
def test_numbers(number: int | Decimal) -> None:
    [value] = where(soql.one_of("Latitude__c", [number])).values  # type: ignore[union-attr]
    assert value == number


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_are_written_without_exponent(number: float) -> None:
    written = soql.literal(number)
    assert "e" not in written.lower()
    assert Decimal(written) == Decimal(repr(number))


@given(INSTANTS, st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_date_times_are_utc_literals(moment: datetime, offset_minutes: int) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    assert where(soql.at_least("CreatedDate", local)) == Comparison("CreatedDate", ">=", moment)


def test_other_literals() -> None:
    assert where(soql.equals("IsClosed", True)) == Comparison("IsClosed", "=", True)
    assert where(soql.equals("ClosedDate", None)) == Comparison("ClosedDate", "=", None)
    assert soql.literal(date(2026, 5, 1)) == "2026-05-01"


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        Decimal("NaN"),
        Decimal("-Infinity"),
        datetime(2026, 5, 1, 12),
        datetime(2026, 5, 1, 12, 0, 0, 500, tzinfo=UTC),
        b"bytes",
        ["a", "list"],
        object(),
    ],
)
def test_what_soql_cannot_hold_is_refused(value: object) -> None:
    with pytest.raises(ValueError):
        soql.literal(value)


@given(st.text())
def test_names_are_plain_identifiers(name: str) -> None:
    if soql.IDENTIFIER.fullmatch(name):
        assert soql.identifier(name) == name
    else:
        with pytest.raises(ValueError):
            soql.equals(name, "x")


def test_an_empty_list_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        soql.one_of("Type", [])


def test_a_whole_statement() -> None:
    statement = soql.Select(
        ["Id", "Type"],
        "Case",
        [
            soql.one_of("Type", ["Pothole", "O'Brien"]),
            soql.before("CreatedDate", datetime(2026, 5, 1, tzinfo=UTC)),
        ],
        [("CreatedDate", True), ("Id", False)],
        limit=10,
    )
    assert str(statement) == (
        "SELECT Id, Type FROM Case WHERE Type IN ('Pothole', 'O\\'Brien') "
        "AND CreatedDate < 2026-05-01T00:00:00Z ORDER BY CreatedDate DESC, Id ASC LIMIT 10"
    )
    assert parse(str(statement)) == Query(
        ("Id", "Type"),
        "Case",
        Junction(
            "AND",
            (
                Membership("Type", ("Pothole", "O'Brien")),
                Comparison("CreatedDate", "<", datetime(2026, 5, 1, tzinfo=UTC)),
            ),
        ),
        (Order("CreatedDate", True), Order("Id", False)),
        10,
    )


def test_the_parser_refuses_what_a_bad_quoting_would_send() -> None:
    """The property tests above mean something only if the parser catches a break-out."""
    with pytest.raises(SoqlError):
        parse("SELECT Id FROM Case WHERE Subject = 'x' OR Id != null OR Subject = '' AND A = 1")
    broken = parse("SELECT Id FROM Case WHERE Subject = 'x' OR Id != null")
    assert broken.where != Comparison("Subject", "=", "x' OR Id != null")
