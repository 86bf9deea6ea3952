"""Parsing: every client dialect accepted, every problem reported by field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.open311.errors import Open311Error
from gateway.open311.models import Location, RequestStatus, UpdateStatus
from gateway.open311.parse import (
    Params,
    parse_datetime,
    parse_new_request,
    parse_new_update,
    parse_number,
    parse_request_query,
    parse_update_query,
)

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
BASE: Params = [("service_code", "POT"), ("lat", "51.5"), ("long", "-0.1")]


def problems(call: Callable[..., object], *args: object) -> list[str]:
    """The descriptions of the 400 that `call(*args)` must raise."""
    with pytest.raises(Open311Error) as caught:
        call(*args)
    assert caught.value.status == 400
    return [p.description for p in caught.value.problems]


# parse_datetime / parse_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02t03:04:05z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T03:04:05.5Z", datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
        ("2026-01-02T03:04:05.123456789Z", datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
        (
            "2026-01-02T03:04:05+01:00",
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1))),
        ),
        (
            "2026-01-02 03:04:05-05:30",
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
        ),
        (
            " 2026-01-02T03:04:05 01:00 ",
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1))),
        ),
    ],
)
def test_parse_datetime_accepts(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-02T03:04:05",
        "2026-01-02",
        "yesterday",
        "",
        "2026-13-02T03:04:05Z",
        "2026-01-02T25:04:05Z",
        "2026-01-02T03:04:05+0100",
    ],
)
def test_parse_datetime_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(text)


@pytest.mark.parametrize(
    ("text", "expected"), [("51.500000", 51.5), (" -0.1 ", -0.1), ("+3", 3.0), (".5", 0.5)]
)
def test_parse_number_accepts(text: str, expected: float) -> None:
    assert parse_number(text) == expected


@pytest.mark.parametrize("text", ["abc", "nan", "inf", "1_000", "1e999", "51,5", ""])
def test_parse_number_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_number(text)


# parse_new_request


def test_minimal_request() -> None:
    request = parse_new_request(BASE)
    assert request.service_code == "POT"
    assert request.location == Location(lat=51.5, long=-0.1)
    assert request.attributes == {}
    assert request.media_urls == ()
    assert request.description is None


def test_fixmystreet_request() -> None:
    """What FixMyStreet posts: strings with 6 decimals, its own attributes, CRLF, deviceid."""
    params: Params = [
        ("api_key", "secret"),
        ("jurisdiction_id", "city"),
        ("service_code", "POT"),
        ("lat", " 51.500000 "),
        ("long", "-0.100000"),
        ("address_string", "1 High St"),
        ("description", "Title\r\n\r\nDetails"),
        ("email", "a@example.org"),
        ("first_name", "Ann"),
        ("last_name", "Other"),
        ("phone", "0123"),
        ("account_id", "acc"),
        ("deviceid", "dev1"),
        ("attribute[fixmystreet_id]", "123"),
        ("attribute[title]", "Hole"),
        ("attribute[easting]", "530000"),
        ("media_url", "https://example.org/1.jpg"),
        ("media_url", "https://example.org/2.jpg"),
        ("unknown", "ignored"),
    ]
    request = parse_new_request(params)
    assert request.location == Location(lat=51.5, long=-0.1, address_string="1 High St")
    assert request.description == "Title\n\nDetails"
    assert request.device_id == "dev1"
    assert (request.email, request.first_name, request.last_name) == (
        "a@example.org",
        "Ann",
        "Other",
    )
    assert (request.phone, request.account_id) == ("0123", "acc")
    assert request.attributes == {"fixmystreet_id": "123", "title": "Hole", "easting": "530000"}
    assert request.media_urls == ("https://example.org/1.jpg", "https://example.org/2.jpg")


def test_device_id_wins_over_deviceid() -> None:
    request = parse_new_request([*BASE, ("deviceid", "old"), ("device_id", "new")])
    assert request.device_id == "new"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("attribute[size]", "big")], {"size": "big"}),
        ([("attribute[kinds][]", "a"), ("attribute[kinds][]", "b")], {"kinds": ("a", "b")}),
        ([("attribute[kinds][]", "a")], {"kinds": ("a",)}),
        ([("attribute[kinds]", "a"), ("attribute[kinds]", "b")], {"kinds": ("a", "b")}),
        ([("attribute[kinds]", "a"), ("attribute[kinds][]", "b")], {"kinds": ("a", "b")}),
        ([("attribute[Tree type (if known)?]", "oak")], {"Tree type (if known)?": "oak"}),
        ([("attribute[odd]code]", "x")], {"odd]code": "x"}),
        ([("attribute[odd]code][]", "x")], {"odd]code": ("x",)}),
        ([("attribute[a][b]", "x")], {"a][b": "x"}),
        ([("attribute[size]", ""), ("attribute[kinds][]", " ")], {}),
        ([("attribute[kinds][]", ""), ("attribute[kinds][]", "b")], {"kinds": ("b",)}),
        ([("attribute[size]", "  big ")], {"size": "big"}),
        ([("attributes[size]", "big"), ("attribute[]", "x"), ("attribute[open", "x")], {}),
        ([("attribute[][]", "x"), ("attribute", "x")], {}),
    ],
)
def test_attribute_dialects(params: Params, expected: dict[str, object]) -> None:
    assert parse_new_request([*BASE, *params]).attributes == expected


@pytest.mark.parametrize("field", ["lat", "email", "device_id", "description", "media_url"])
def test_empty_values_mean_not_sent(field: str) -> None:
    params: Params = [("service_code", "POT"), ("address_string", "here"), (field, "")]
    request = parse_new_request(params)
    assert request.location == Location(address_string="here")
    assert request.email is None
    assert request.device_id is None
    assert request.description is None
    assert request.media_urls == ()


@pytest.mark.parametrize(
    "location",
    [
        [("address_string", "1 High St")],
        [("address_id", "A1")],
        [("lat", "0"), ("long", "0")],
        [("lat", "-90"), ("long", "180")],
    ],
)
def test_any_location_form_is_enough(location: Params) -> None:
    parse_new_request([("service_code", "POT"), *location])


def test_missing_everything() -> None:
    assert problems(parse_new_request, [("api_key", "k")]) == [
        "service_code: required",
        "location: one of lat and long, address_string or address_id is required",
    ]


def test_every_problem_is_listed() -> None:
    params: Params = [
        ("lat", "91"),
        ("long", "east"),
        ("description", "x" * 4001),
    ]
    assert problems(parse_new_request, params) == [
        "service_code: required",
        "lat: must be a number between -90 and 90",
        "long: must be a number between -180 and 180",
        "description: longer than 4000 characters",
    ]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ([("lat", "51.5")], "lat: given without long"),
        ([("long", "-0.1"), ("address_string", "here")], "long: given without lat"),
        ([("lat", "nan"), ("long", "0")], "lat: must be a number between -90 and 90"),
        ([("lat", "0"), ("long", "-180.5")], "long: must be a number between -180 and 180"),
    ],
)
def test_location_problems(given: Params, message: str) -> None:
    assert problems(parse_new_request, [("service_code", "POT"), *given]) == [message]


def test_description_length_counts_crlf_as_one() -> None:
    text = "x\r\n" * 1500  # 4500 characters sent, 2999 once normalised and stripped
    assert parse_new_request([*BASE, ("description", text)]).description == "x\n" * 1499 + "x"
    assert parse_new_request([*BASE, ("description", "x" * 4000)]).description == "x" * 4000


# parse_request_query


def test_request_query_defaults() -> None:
    query = parse_request_query([], NOW)
    assert query.service_request_ids == ()
    assert (query.start, query.end) == (NOW - timedelta(days=90), NOW)
    assert query.statuses == ()
    assert query.service_codes == ()
    assert query.limit == 1000


def test_request_ids_override_and_skip_validation() -> None:
    params: Params = [
        ("service_request_id", "1, 2,,3"),
        ("status", "bogus"),
        ("start_date", "nope"),
        ("page_size", "-1"),
    ]
    query = parse_request_query(params, NOW)
    assert query.service_request_ids == ("1", "2", "3")
    assert (query.start, query.end, query.statuses) == (None, None, ())


def test_request_query_filters() -> None:
    params: Params = [
        ("service_code", "POT,LIT"),
        ("service_code", "TREE"),
        ("status", "Open, CLOSED,open"),
        ("start_date", "2026-01-01T00:00:00Z"),
        ("end_date", "2026-02-01T00:00:00.250+01:00"),
        ("page_size", "50"),
        ("service_request_id", ""),
        ("jurisdiction_id", ""),
    ]
    query = parse_request_query(params, NOW)
    assert query.service_codes == ("POT", "LIT", "TREE")
    assert query.statuses == (RequestStatus.OPEN, RequestStatus.CLOSED)
    assert query.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert query.end == datetime(2026, 1, 31, 23, 0, 0, 250000, tzinfo=UTC)
    assert query.limit == 50


def test_one_bound_defaults_the_other() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    only_start = parse_request_query([("start_date", "2026-01-01T00:00:00Z")], NOW)
    assert (only_start.start, only_start.end) == (start, start + timedelta(days=90))
    only_end = parse_request_query([("end_date", "2026-01-01T00:00:00Z")], NOW)
    assert (only_end.start, only_end.end) == (start - timedelta(days=90), start)


def test_exactly_90_days_is_fine() -> None:
    params: Params = [("start_date", "2026-01-01T00:00:00Z"), ("end_date", "2026-04-01T00:00:00Z")]
    assert parse_request_query(params, NOW).end == datetime(2026, 4, 1, tzinfo=UTC)


def test_page_size_is_capped() -> None:
    assert parse_request_query([("page_size", "5000")], NOW).limit == 1000


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("status", "open,pending")], ["status: 'pending' is not one of open, closed"]),
        (
            [("start_date", "2026-01-01T00:00:00")],
            ["start_date: '2026-01-01T00:00:00' is not an RFC 3339 date-time with a time zone"],
        ),
        (
            [("end_date", "soon")],
            ["end_date: 'soon' is not an RFC 3339 date-time with a time zone"],
        ),
        (
            [("start_date", "2026-01-01T00:00:00Z"), ("end_date", "2026-04-01T00:00:01Z")],
            ["start_date and end_date: span over 90 days"],
        ),
        (
            [("start_date", "2026-02-01T00:00:00Z"), ("end_date", "2026-01-01T00:00:00Z")],
            ["end_date: before start_date"],
        ),
        ([("page_size", "0")], ["page_size: must be a positive integer"]),
        ([("page_size", "ten")], ["page_size: must be a positive integer"]),
        (
            [("status", "x"), ("start_date", "bad"), ("page_size", "-5")],
            [
                "status: 'x' is not one of open, closed",
                "start_date: 'bad' is not an RFC 3339 date-time with a time zone",
                "page_size: must be a positive integer",
            ],
        ),
    ],
)
def test_request_query_problems(params: Params, expected: list[str]) -> None:
    assert problems(parse_request_query, params, NOW) == expected


# parse_update_query


def test_update_query_defaults_to_last_24_hours() -> None:
    query = parse_update_query([("start_date", ""), ("api_key", "k")], NOW)
    assert (query.start, query.end) == (NOW - timedelta(hours=24), NOW)


def test_update_query_window() -> None:
    params: Params = [("start_date", "2026-05-01T10:00:00Z"), ("end_date", "2026-05-01T12:00:00Z")]
    query = parse_update_query(params, NOW)
    assert (query.start, query.end) == (NOW - timedelta(hours=2), NOW)
    only_start = parse_update_query(params[:1], NOW)
    assert only_start.end == only_start.start + timedelta(days=90)
    only_end = parse_update_query(params[1:], NOW)
    assert only_end.start == NOW - timedelta(days=90)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            [("start_date", "2025-01-01T00:00:00Z"), ("end_date", "2026-01-01T00:00:00Z")],
            ["start_date and end_date: span over 90 days"],
        ),
        (
            [("start_date", "2026-01-02T00:00:00Z"), ("end_date", "2026-01-01T00:00:00Z")],
            ["end_date: before start_date"],
        ),
        (
            [("start_date", "x"), ("end_date", "y")],
            [
                "start_date: 'x' is not an RFC 3339 date-time with a time zone",
                "end_date: 'y' is not an RFC 3339 date-time with a time zone",
            ],
        ),
    ],
)
def test_update_query_problems(params: Params, expected: list[str]) -> None:
    assert problems(parse_update_query, params, NOW) == expected


# parse_new_update

UPDATE: Params = [
    ("api_key", "k"),
    ("service_request_id", "638344"),
    ("update_id", "fms-1"),
    ("status", "OPEN"),
    ("updated_datetime", "2026-05-01T11:00:00+01:00"),
    ("description", "Still there\r\nplease fix"),
]


def test_new_update() -> None:
    update = parse_new_update(
        [
            *UPDATE,
            ("email", "a@example.org"),
            ("first_name", "Ann"),
            ("last_name", "Other"),
            ("account_id", "acc"),
            ("media_url", "https://example.org/1.jpg"),
        ]
    )
    assert update.service_request_id == "638344"
    assert update.update_id == "fms-1"
    assert update.status is UpdateStatus.OPEN
    assert update.updated_datetime == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    assert update.description == "Still there\nplease fix"
    assert (update.email, update.first_name, update.last_name) == (
        "a@example.org",
        "Ann",
        "Other",
    )
    assert (update.account_id, update.media_url) == ("acc", "https://example.org/1.jpg")


def test_new_update_optional_fields_default_to_none() -> None:
    update = parse_new_update([*UPDATE, ("email", ""), ("media_url", "")])
    assert (update.email, update.first_name, update.account_id, update.media_url) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("OPEN", UpdateStatus.OPEN),
        ("closed", UpdateStatus.CLOSED),
        ("IN_PROGRESS", UpdateStatus.IN_PROGRESS),
        ("Action Scheduled", UpdateStatus.ACTION_SCHEDULED),
        ("not-councils-responsibility", UpdateStatus.NOT_COUNCILS_RESPONSIBILITY),
        (" FIXED ", UpdateStatus.FIXED),
    ],
)
def test_update_status_spellings(text: str, expected: UpdateStatus) -> None:
    params = [(key, text if key == "status" else value) for key, value in UPDATE]
    assert parse_new_update(params).status is expected


def test_new_update_lists_every_problem() -> None:
    assert problems(parse_new_update, [("api_key", "k"), ("description", "")]) == [
        "service_request_id: required",
        "update_id: required",
        "status: required",
        "updated_datetime: required",
        "description: required",
    ]


def test_new_update_bad_values() -> None:
    params: Params = [
        ("service_request_id", "1"),
        ("update_id", "u"),
        ("status", "WONTFIX"),
        ("updated_datetime", "2026-05-01 11:00"),
        ("description", "x" * 4001),
    ]
    assert problems(parse_new_update, params) == [
        "status: 'WONTFIX' is not one of OPEN, CLOSED, FIXED, IN_PROGRESS, ACTION_SCHEDULED, "
        "INVESTIGATING, DUPLICATE, NOT_COUNCILS_RESPONSIBILITY, NO_FURTHER_ACTION, "
        "INTERNAL_REFERRAL, CANCELLED, REOPEN, FOR_TRIAGE",
        "updated_datetime: '2026-05-01 11:00' is not an RFC 3339 date-time with a time zone",
        "description: longer than 4000 characters",
    ]
