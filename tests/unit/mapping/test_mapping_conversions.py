"""`convert`: every type, both directions, and every value it refuses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gateway.mapping import MappingError
from gateway.mapping.conversions import ConvertType, as_instant, as_text, converter
from gateway.open311.models import Location

from mappingfiles import NOW, created, read_back, request

LONDON = ZoneInfo("Europe/London")


def convert(
    to: ConvertType,
    value: Any,
    *,
    zone: Any = UTC,
    format: str | None = None,
    reads_backend: bool = True,
) -> Any:
    return converter(to, zone=zone, format=format, reads_backend=reads_backend)(value)


@pytest.mark.parametrize(
    ("to", "value", "expected"),
    [
        ("int", "42", 42),
        ("int", " -7 ", -7),
        ("int", 42, 42),
        ("int", 3.0, 3),
        ("int", Decimal("12.000"), 12),
        ("decimal", "1.50", Decimal("1.50")),
        ("decimal", 0.1, Decimal("0.1")),
        ("decimal", 7, Decimal(7)),
        ("decimal", Decimal("2.5"), Decimal("2.5")),
        ("float", "2.5", 2.5),
        ("float", 3, 3.0),
        ("float", Decimal("0.25"), 0.25),
        ("bool", "yes", True),
        ("bool", " TRUE ", True),
        ("bool", "1", True),
        ("bool", "No", False),
        ("bool", "false", False),
        ("bool", "0", False),
        ("bool", 1, True),
        ("bool", 0, False),
        ("bool", False, False),
        ("str", "text", "text"),
        ("str", 12, "12"),
        ("str", 2.5, "2.5"),
        ("str", Decimal("1.10"), "1.10"),
        ("str", True, "true"),
        ("str", False, "false"),
        ("str", NOW, "2026-05-01T12:00:00+00:00"),
        ("str", date(2026, 5, 1), "2026-05-01"),
        ("date", "2026-05-01", date(2026, 5, 1)),
        ("date", date(2026, 5, 1), date(2026, 5, 1)),
        ("date", NOW, date(2026, 5, 1)),
    ],
)
def test_conversions(to: ConvertType, value: Any, expected: Any) -> None:
    result = convert(to, value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("to", "value", "message"),
    [
        ("int", "4.5", "text that is not a whole number cannot be an int"),
        ("int", "twelve", "text that is not a whole number cannot be an int"),
        pytest.param(
            "int", "9" * 5000, "text that is not a whole number cannot be an int", id="int-long"
        ),
        ("int", 4.5, "a float that is not a whole number cannot be an int"),
        ("int", float("nan"), "a float that is not a whole number cannot be an int"),
        ("int", float("inf"), "a float that is not a whole number cannot be an int"),
        ("int", Decimal("sNaN"), "a Decimal that is not a whole number cannot be an int"),
        ("int", Decimal("1e5000"), "a number too long for an int"),
        ("int", True, "a bool cannot be an int"),
        ("int", [1], "a list cannot be an int"),
        ("decimal", "1,5", "text that is not a number cannot be a decimal"),
        ("decimal", "NaN", "a number that is not finite cannot be a decimal"),
        ("decimal", float("inf"), "a number that is not finite cannot be a decimal"),
        ("decimal", Decimal("sNaN"), "a number that is not finite cannot be a decimal"),
        ("decimal", False, "a bool cannot be a decimal"),
        ("decimal", b"1", "a bytes cannot be a decimal"),
        ("float", "abc", "text that is not a number cannot be a float"),
        ("float", "inf", "a number that is not finite cannot be a float"),
        ("float", 10**400, "a number too large for a float"),
        ("float", Decimal("1e400"), "a number that is not finite cannot be a float"),
        ("float", Decimal("sNaN"), "a Decimal that is not a number cannot be a float"),
        ("float", True, "a bool cannot be a float"),
        ("float", {}, "a dict cannot be a float"),
        ("bool", "maybe", "text that is not true/false/yes/no/1/0 cannot be a bool"),
        ("bool", 2, "a int cannot be a bool"),
        ("bool", 1.0, "a float cannot be a bool"),
        ("str", [1], "a list is not text"),
        pytest.param("str", 10**5000, "a number too long to write as text", id="str-huge-int"),
        ("datetime", "yesterday", "text that is not a date-time in ISO 8601"),
        ("datetime", 1714560000, "a int is not a date-time"),
        ("date", "2026-13-01", "text that is not a date-time in ISO 8601"),
        ("date", ["2026-05-01"], "a list is not a date-time"),
    ],
)
def test_values_a_conversion_refuses(to: ConvertType, value: Any, message: str) -> None:
    with pytest.raises(MappingError) as caught:
        convert(to, value)
    assert str(caught.value) == message


def test_read_date_times_are_aware_utc() -> None:
    naive = datetime(2026, 5, 1, 12, 0)
    assert convert("datetime", naive) == NOW and convert("datetime", naive).tzinfo is UTC
    in_london = convert("datetime", naive + timedelta(hours=1), zone=LONDON)
    assert in_london == NOW and in_london.tzinfo is UTC
    assert convert("datetime", "2026-05-01T13:00:00", zone=LONDON) == NOW
    offset = datetime(2026, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert convert("datetime", offset, zone=LONDON) == NOW  # its own zone, not `timezone`
    assert convert("datetime", "2026-05-01T12:00:00Z") == NOW
    assert convert("datetime", date(2026, 5, 1)) == datetime(2026, 5, 1, tzinfo=UTC)


def test_read_date_times_with_a_format() -> None:
    format = "%d/%m/%Y %H:%M"
    assert convert("datetime", "01/05/2026 13:00", zone=LONDON, format=format) == NOW
    assert convert("datetime", " 1/5/2026 13:00", zone=LONDON, format=format) == NOW
    assert convert("date", "01/05/2026 00:30", zone=LONDON, format=format) == date(2026, 5, 1)
    with_name = convert("datetime", "1 May 2026 13h", zone=LONDON, format="%d %B %Y %Hh")
    assert with_name == NOW
    with pytest.raises(MappingError, match=r"^text that is not a date-time in the format$"):
        convert("datetime", "2026-05-01T13:00:00", format=format)


def test_written_date_times_are_utc_or_formatted_in_the_zone() -> None:
    written = convert("datetime", NOW, zone=LONDON, reads_backend=False)
    assert written == NOW and written.tzinfo is UTC
    assert convert("datetime", "2026-05-01T13:00:00", zone=LONDON, reads_backend=False) == NOW
    formatted = convert(
        "datetime", NOW, zone=LONDON, format="%d/%m/%Y %H:%M:%S", reads_backend=False
    )
    assert formatted == "01/05/2026 13:00:00"
    # the Open311 side's text is ISO 8601 even when the backend's format is another
    assert (
        convert("datetime", "2026-05-01T12:00:00Z", format="%Y%m%d%H%M", reads_backend=False)
        == "202605011200"
    )
    assert convert("date", NOW, zone=LONDON, reads_backend=False) == date(2026, 5, 1)
    late = datetime(2026, 5, 1, 23, 30, tzinfo=UTC)
    assert convert("date", late, zone=LONDON, format="%d.%m.%Y", reads_backend=False) == (
        "02.05.2026"
    )
    assert convert("date", late, format="%Y-%m-%d %H:%M", reads_backend=False) == (
        "2026-05-01 00:00"
    )


def test_date_times_out_of_range() -> None:
    far = datetime(9999, 12, 31, 23, 0)
    with pytest.raises(MappingError, match=r"^a date-time out of range$"):
        convert("datetime", far, zone=ZoneInfo("America/New_York"))
    with pytest.raises(MappingError, match=r"^a date-time out of range$"):
        as_instant(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))))


def test_values_made_to_fit_open311_fields() -> None:
    assert as_text("x") == "x" and as_text(12) == "12" and as_text(Decimal("1.5")) == "1.5"
    with pytest.raises(MappingError, match=r"^a bool is not text$"):
        as_text(True)
    assert as_instant("2026-05-01T14:00:00+02:00") == NOW
    assert as_instant(datetime(2026, 5, 1, 12)) == NOW


# --- through mapping files ------------------------------------------------------------


def test_convert_written_to_the_backend(tmp_path: Path) -> None:
    entries = (
        "    depth: {from: attributes.depth, convert: int}\n"
        "    width: {from: attributes.width, convert: decimal}\n"
        "    ratio: {from: attributes.ratio, convert: float}\n"
        "    urgent: {from: attributes.urgent, convert: bool}\n"
        "    lat: {from: lat, convert: str}\n"
        "    seen: {from: attributes.seen, convert: {to: datetime, timezone: Europe/London}}\n"
        "    day: {from: attributes.seen, convert: {to: date, format: '%d/%m/%Y'}}\n"
        "    stamp:\n"
        "      from: context.now\n"
        "      convert: {to: datetime, format: '%Y-%m-%d %H:%M', timezone: Europe/London}\n"
        "    kinds: {from: attributes.kinds, convert: int}\n"
    )
    new = request(
        location=Location(lat=51.5, long=-0.1),
        attributes={
            "depth": "12",
            "width": "0.30",
            "ratio": "0.5",
            "urgent": "yes",
            "seen": "2026-05-01T13:00:00",
            "kinds": ("1", "2"),
        },
    )
    assert created(tmp_path, entries, new) == {
        "depth": 12,
        "width": Decimal("0.30"),
        "ratio": 0.5,
        "urgent": True,
        "lat": "51.5",
        "seen": NOW,
        "day": "01/05/2026",
        "stamp": "2026-05-01 13:00",
        "kinds": [1, 2],
    }


def test_convert_read_from_the_backend(tmp_path: Path) -> None:
    entries = (
        "    updated_datetime:\n"
        "      from: changed\n"
        "      convert: {to: datetime, format: '%d/%m/%Y %H:%M:%S', timezone: Europe/London}\n"
        "    expected_datetime: {from: due, convert: {to: datetime, timezone: Europe/London}}\n"
        "    address_id: {from: uprn, convert: str}\n"
        "    lat: {from: y, convert: float}\n"
    )
    record = {"changed": "01/05/2026 13:00:00", "due": "2026-05-01T13:00:00", "uprn": 7, "y": "5"}
    found = read_back(tmp_path, entries, record)
    assert found["updated_datetime"] == NOW and found["expected_datetime"] == NOW
    assert (found["address_id"], found["lat"]) == ("7", 5.0)


def test_a_failed_conversion_names_the_target_not_the_value(tmp_path: Path) -> None:
    entries = "    depth: {from: attributes.depth, convert: int}\n"
    with pytest.raises(MappingError) as caught:
        created(tmp_path, entries, request(attributes={"depth": "about 12 cm, by Ann"}))
    assert str(caught.value) == "depth: text that is not a whole number cannot be an int"
