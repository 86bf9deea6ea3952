"""Open311 searches (GET requests filters) turned into backend queries."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from connectors.base import Range
from gateway.open311.models import RequestQuery, RequestStatus

from mappingfiles import NOW, READ, at, compiled, document, load_errors


def test_backend_query_through_the_tables(tmp_path: Path) -> None:
    mapping = compiled(tmp_path, document())
    start, end = NOW - timedelta(days=3), NOW
    query = mapping.backend_query(
        RequestQuery(
            service_codes=("DOG", "POT", "NONE"),
            statuses=(RequestStatus.OPEN,),
            start=start,
            end=end,
            limit=50,
        )
    )
    assert query.ids == ()
    assert dict(query.any_of) == {"category": ("streets", "roads"), "state": ("NEW", "WORK")}
    assert dict(query.ranges) == {"created": Range(start, end)}
    assert (query.order_by, query.limit) == ("created", 50)


def test_backend_query_status_without_a_table_and_ids(tmp_path: Path) -> None:
    read = READ.replace("{from: state, table: status}", "state").replace(
        "{from: category, table: category, reverse: true}", "category"
    )
    mapping = compiled(tmp_path, document(read=read))
    query = mapping.backend_query(
        RequestQuery(
            service_request_ids=("3", "4"),
            service_codes=("POT",),
            statuses=(RequestStatus.OPEN, RequestStatus.CLOSED),
            start=NOW,
        )
    )
    assert query.ids == ("3", "4")
    assert dict(query.any_of) == {"category": ("POT",), "state": ("open", "closed")}
    assert dict(query.ranges) == {"created": Range(NOW, None)}


def test_backend_query_without_filters(tmp_path: Path) -> None:
    query = compiled(tmp_path, document()).backend_query(RequestQuery())
    assert (dict(query.any_of), dict(query.ranges), query.limit) == ({}, {}, 1000)


def test_searched_fields_must_be_read_from_a_field(tmp_path: Path) -> None:
    text = document(read=READ.replace("{from: state, table: status}", "{const: open}"))
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'status: {const')}: requests.read.status: "
        "status must be read with 'from', so that requests can be searched by it"
    ]


def test_searched_fields_cannot_be_changed_on_the_way(tmp_path: Path) -> None:
    read = READ.replace(
        "requested_datetime: created",
        "requested_datetime: {from: created, convert: {to: datetime, timezone: Europe/Paris}}",
    ).replace(
        "{from: category, table: category, reverse: true}",
        "{from: category, table: category, reverse: true, truncate: 3, split: ','}",
    )
    text = document(read=read)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'split')}: requests.read.service_code.split: requests are "
        "searched by service_code, so it cannot use split (only table, reverse and default)",
        f"{at(tmp_path, text, 'truncate')}: requests.read.service_code.truncate: requests are "
        "searched by service_code, so it cannot use truncate (only table, reverse and default)",
        f"{at(tmp_path, text, 'convert')}: requests.read.requested_datetime.convert: requests "
        "are searched by requested_datetime, so it cannot use convert "
        "(only table, reverse and default)",
    ]
