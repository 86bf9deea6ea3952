"""What each section reads, and the field paths it reads and writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.mapping import MappingContext, MappingError
from gateway.open311.models import Location, NewRequestUpdate, UpdateStatus

from mappingfiles import (
    CONTEXT,
    NOW,
    RECORD,
    UPDATES,
    compiled,
    created,
    document,
    read_back,
    request,
)

FULL_REQUEST = request(
    location=Location(lat=51.5, long=-0.1, address_string="1 High St", address_id="UPRN-1"),
    description="A deep hole",
    email="ann@example.org",
    device_id="dev-1",
    account_id="acc-1",
    first_name="Ann",
    last_name="Lee",
    phone="0123",
    media_urls=("http://img/1.jpg", "http://img/2.jpg"),
    attributes={"depth": "12", "kinds": ("a", "b")},
)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("service_code", "POT"),
        ("lat", 51.5),
        ("long", -0.1),
        ("address_string", "1 High St"),
        ("address_id", "UPRN-1"),
        ("description", "A deep hole"),
        ("email", "ann@example.org"),
        ("device_id", "dev-1"),
        ("account_id", "acc-1"),
        ("first_name", "Ann"),
        ("last_name", "Lee"),
        ("phone", "0123"),
        ("media_url", "http://img/1.jpg"),
        ("attributes", {"depth": "12", "kinds": ["a", "b"]}),
        ("attributes.depth", "12"),
        ("attributes.kinds", ["a", "b"]),
        ("context.jurisdiction_id", "example.city"),
        ("context.idempotency_key", "key-1"),
        ("context.now", NOW),
    ],
)
def test_each_request_source_is_read(tmp_path: Path, source: str, expected: object) -> None:
    assert created(tmp_path, f"    out: {{from: '{source}'}}\n", FULL_REQUEST) == {"out": expected}


def test_plain_text_is_short_for_from(tmp_path: Path) -> None:
    assert created(tmp_path, "    out: description\n", FULL_REQUEST) == {"out": "A deep hole"}


def test_attribute_codes_may_hold_dots_and_spaces(tmp_path: Path) -> None:
    new = request(attributes={"a.b c": "x"})
    assert created(tmp_path, "    out: attributes.a.b c\n", new) == {"out": "x"}


def test_a_missing_value_leaves_the_target_out(tmp_path: Path) -> None:
    entries = (
        "    mail: email\n    pics: media_url\n    attrs: attributes\n    depth: attributes.x\n"
    )
    assert created(tmp_path, entries) == {}


def test_constant(tmp_path: Path) -> None:
    entries = "    state: {const: NEW}\n    priority: {const: 3}\n    flags: {const: [a, b]}\n"
    assert created(tmp_path, entries) == {"state": "NEW", "priority": 3, "flags": ["a", "b"]}


def test_nested_targets_build_sub_records(tmp_path: Path) -> None:
    entries = (
        "    state: {const: NEW}\n"
        "    history.note: {const: created}\n"
        "    history.by.name: first_name\n"
        "    history.by.phone: phone\n"
    )
    payload = created(tmp_path, entries, request(first_name="Ann"))
    assert payload == {"state": "NEW", "history": {"note": "created", "by": {"name": "Ann"}}}


def test_digit_segments_of_targets_build_lists(tmp_path: Path) -> None:
    entries = (
        "    contacts.0.email: email\n"
        "    contacts.0.name: first_name\n"
        "    contacts.2.phone: phone\n"
        "    tags.1: {const: web}\n"
        "    tags.0: {const: open311}\n"
        "    0.x: {const: record key}\n"
    )
    payload = created(tmp_path, entries, FULL_REQUEST)
    assert payload == {
        "contacts": [{"email": "ann@example.org", "name": "Ann"}, None, {"phone": "0123"}],
        "tags": ["open311", "web"],
        "0": {"x": "record key"},
    }


def test_a_missing_value_creates_no_list_or_record(tmp_path: Path) -> None:
    assert created(tmp_path, "    contacts.0.email: email\n    who.name: first_name\n") == {}


def test_update_sources_and_citizen_status_table(tmp_path: Path) -> None:
    updates = UPDATES.replace(
        "    state: {from: status, table: mood}\n",
        "    state: {from: status, table: mood}\n"
        "    ticket.state: {from: status, table: mood}\n"
        "    raw: status\n    id: update_id\n    at: updated_datetime\n    note: description\n"
        "    mail: email\n    who: first_name\n    last: last_name\n    acc: account_id\n"
        "    pic: media_url\n    key: context.idempotency_key\n",
    )
    mapping = compiled(tmp_path, document(updates=updates))
    update = NewRequestUpdate(
        service_request_id="12",
        update_id="u-9",
        status=UpdateStatus.FIXED,
        updated_datetime=NOW,
        description="Fixed now",
        email="ann@example.org",
        first_name="Ann",
        last_name="Lee",
        account_id="acc-1",
        media_url="http://img/3.jpg",
    )
    context = MappingContext("example.city", "u-9", NOW)
    assert mapping.update_payload(update, context) == {
        "ticket_id": "12",
        "state": "DONE",
        "ticket": {"state": "DONE"},
        "raw": "FIXED",
        "id": "u-9",
        "at": NOW,
        "note": "Fixed now",
        "mail": "ann@example.org",
        "who": "Ann",
        "last": "Lee",
        "acc": "acc-1",
        "pic": "http://img/3.jpg",
        "key": "u-9",
    }
    comment = update.model_copy(update={"status": UpdateStatus.OPEN})
    payload = mapping.update_payload(comment, context)
    assert "state" not in payload and "ticket" not in payload  # null in the table: no value
    reopened = update.model_copy(update={"status": UpdateStatus.REOPEN})
    assert mapping.update_payload(reopened, context)["state"] == "WORK"  # the fallback


def test_record_paths_reach_into_sub_records_and_lists(tmp_path: Path) -> None:
    entries = (
        "    address: where.street\n"
        "    media_url: photos.1.url\n"
        "    zipcode: where.nope.x\n"
        "    address_id: where.street.x\n"
        "    status_notes: notes.0\n"
    )
    record = {
        "where": {"street": "1 High St"},
        "photos": [{"url": "a"}, {"url": "b"}],
        "notes": ("first", "second"),
    }
    found = read_back(tmp_path, entries, record)
    assert (found["address"], found["media_url"], found["status_notes"]) == (
        "1 High St",
        "b",
        "first",
    )
    assert "zipcode" not in found and "address_id" not in found
    short = read_back(tmp_path, entries, {"photos": [{"url": "a"}], "where": "text"})
    assert "media_url" not in short and "address" not in short


def test_a_record_read_through_a_list_index_that_is_a_key(tmp_path: Path) -> None:
    found = read_back(tmp_path, "    address: lines.0\n", {"lines": {"0": "1 High St"}})
    assert found["address"] == "1 High St"


def test_a_backend_record_that_is_not_a_record(tmp_path: Path) -> None:
    mapping = compiled(tmp_path, document())
    with pytest.raises(MappingError, match=r"^the backend gave a list, not a record$"):
        mapping.service_request([RECORD])  # type: ignore[arg-type]
    with pytest.raises(MappingError, match=r"^service_request_id: the backend gave text"):
        mapping.service_request_id("12")  # type: ignore[arg-type]


def test_context_sources_in_an_update(tmp_path: Path) -> None:
    updates = UPDATES.replace(
        "    ticket_id: service_request_id\n",
        "    ticket_id: service_request_id\n    city: context.jurisdiction_id\n",
    )
    mapping = compiled(tmp_path, document(updates=updates))
    update = NewRequestUpdate(
        service_request_id="1",
        update_id="u",
        status=UpdateStatus.OPEN,
        updated_datetime=NOW,
        description="",
    )
    assert mapping.update_payload(update, CONTEXT)["city"] == "example.city"
