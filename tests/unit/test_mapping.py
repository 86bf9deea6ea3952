"""The mapping engine: every operation applied, every load error located, and the
embedded mapping translating a request to the backend and back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from connectors.base import Range
from gateway.mapping import CompiledMapping, MappingContext, MappingError, load_mapping
from gateway.open311.models import (
    Datatype,
    Location,
    NewRequestUpdate,
    NewServiceRequest,
    RequestQuery,
    RequestStatus,
    ServiceType,
    UpdateStatus,
)
from gateway.yamlfile import FileErrors
from mappings import mapping_path

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CONTEXT = MappingContext("example.city", "key-1", NOW)

BACKEND = """\
connector: sql
backend:
  tickets:
    table: tickets
    id: id
    reference: ref
    created_at: created
    columns: {id: integer, ref: text, created: datetime}
  history:
    table: changes
    id: id
    ticket: ticket_id
    time: at
    columns: {id: integer, ticket_id: integer, at: datetime}
"""
TABLES = """\
tables:
  status:
    values: {NEW: open, WORK: open, DONE: closed, VOID: closed}
  category:
    values: {POT: roads, DOG: streets}
  mood:
    values: {OPEN: null, FIXED: DONE}
    fallback: WORK
"""
SERVICES = """\
services:
  - {service_code: POT, service_name: Pothole, metadata: false}
  - {service_code: DOG, service_name: Dog fouling, metadata: false}
"""
CREATE = """\
    state: {const: NEW}
"""
READ = """\
    service_request_id: id
    status: {from: state, table: status}
    service_code: {from: category, table: category, reverse: true}
    requested_datetime: created
"""
UPDATES = """\
updates:
  create:
    ticket_id: service_request_id
    state: {from: status, table: mood}
  read:
    update_id: id
    service_request_id: ticket_id
    status: {from: state, default: open}
    updated_datetime: at
"""


def document(
    create: str = CREATE,
    read: str = READ,
    *,
    tables: str = TABLES,
    services: str = SERVICES,
    updates: str = UPDATES,
) -> str:
    return f"{BACKEND}{tables}{services}requests:\n  create:\n{create}  read:\n{read}{updates}"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "city.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def compiled(tmp_path: Path, text: str) -> CompiledMapping:
    return load_mapping(write(tmp_path, text))


def load_errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(FileErrors) as caught:
        load_mapping(write(tmp_path, text))
    return list(caught.value.messages)


def at(tmp_path: Path, text: str, needle: str, occurrence: int = 1) -> str:
    """`file:line:col` of the `occurrence`-th `needle` in `text` (1-based, as reported)."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{tmp_path / 'city.yaml'}:{line}:{column}"


def request(**fields: object) -> NewServiceRequest:
    base: dict[str, object] = {"service_code": "POT", "location": Location(lat=51.5, long=-0.1)}
    return NewServiceRequest.model_validate({**base, **fields})


def created(tmp_path: Path, entries: str, new: NewServiceRequest | None = None) -> dict:
    mapping = compiled(tmp_path, document(create=entries))
    return mapping.create_payload(new or request(), CONTEXT)


# --- operations, Open311 -> backend ---------------------------------------------------

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


def test_default_only_when_the_source_has_no_value(tmp_path: Path) -> None:
    entries = "    summary: {from: description, default: '(none)'}\n"
    assert created(tmp_path, entries) == {"summary": "(none)"}
    assert created(tmp_path, entries, request(description="text")) == {"summary": "text"}


def test_table_translates_forward(tmp_path: Path) -> None:
    entries = "    category: {from: service_code, table: category}\n"
    assert created(tmp_path, entries) == {"category": "roads"}
    assert created(tmp_path, entries, request(service_code="DOG")) == {"category": "streets"}


def test_default_is_not_translated(tmp_path: Path) -> None:
    entries = "    c: {from: attributes.kind, table: category, default: other}\n"
    assert created(tmp_path, entries) == {"c": "other"}


def test_nested_targets_build_sub_records(tmp_path: Path) -> None:
    entries = (
        "    state: {const: NEW}\n"
        "    history.note: {const: created}\n"
        "    history.by.name: first_name\n"
        "    history.by.phone: phone\n"
    )
    payload = created(tmp_path, entries, request(first_name="Ann"))
    assert payload == {"state": "NEW", "history": {"note": "created", "by": {"name": "Ann"}}}


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


# --- operations, backend -> Open311 ---------------------------------------------------

RECORD = {"id": 12, "state": "NEW", "category": "roads", "created": NOW}


def test_service_request_from_a_record(tmp_path: Path) -> None:
    mapping = compiled(tmp_path, document())
    found = mapping.service_request(RECORD)
    assert found.service_request_id == "12"
    assert found.status is RequestStatus.OPEN
    assert found.service_code == "POT"
    assert found.service_name is None
    assert mapping.service_request(RECORD, {"POT": "Pothole"}).service_name == "Pothole"
    assert found.requested_datetime == NOW


def test_a_mapped_service_name_wins_over_the_catalogue(tmp_path: Path) -> None:
    mapping = compiled(tmp_path, document(read=READ + "    service_name: {const: Roads}\n"))
    assert mapping.service_request(RECORD, {"POT": "Pothole"}).service_name == "Roads"


def test_record_paths_reach_into_sub_records_and_lists(tmp_path: Path) -> None:
    read = (
        READ + "    address: where.street\n    media_url: photos.1.url\n    zipcode: where.nope.x\n"
    )
    mapping = compiled(tmp_path, document(read=read))
    record = {
        **RECORD,
        "where": {"street": "1 High St"},
        "photos": [{"url": "a"}, {"url": "b"}],
    }
    found = mapping.service_request(record)
    assert (found.address, found.media_url, found.zipcode) == ("1 High St", "b", None)
    assert mapping.service_request({**RECORD, "photos": [{"url": "a"}]}).media_url is None


def test_values_are_made_to_fit_open311_fields(tmp_path: Path) -> None:
    read = READ + "    updated_datetime: changed\n    expected_datetime: due\n    lat: y\n"
    mapping = compiled(tmp_path, document(read=read))
    naive = datetime(2026, 5, 1, 12, 0)
    plus_two = "2026-05-01T14:00:00+02:00"
    found = mapping.service_request({**RECORD, "changed": naive, "due": plus_two, "y": "51.5"})
    assert found.updated_datetime == NOW and found.updated_datetime.tzinfo is not None
    assert found.expected_datetime == NOW
    assert found.lat == 51.5


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {**RECORD, "state": "LOST"},
            "state: 'LOST' is not in table 'status', which has no fallback",
        ),
        ({**RECORD, "category": "parks"}, "category: 'parks' is not in table 'category'"),
        ({k: v for k, v in RECORD.items() if k != "id"}, "service_request_id: Field required"),
        ({**RECORD, "id": {"nested": 1}}, "service_request_id: a dict is not text"),
        ({**RECORD, "created": "yesterday"}, "requested_datetime: 'yesterday' is not an ISO"),
        ({**RECORD, "created": 5}, "requested_datetime: a int is not a date-time"),
    ],
)
def test_records_that_cannot_be_mapped(tmp_path: Path, record: dict, message: str) -> None:
    mapping = compiled(tmp_path, document())
    with pytest.raises(MappingError, match=message.replace("(", r"\(")):
        mapping.service_request(record)


def test_request_update_from_a_history_record(tmp_path: Path) -> None:
    updates = UPDATES + "    description: note\n    external_status_code: state\n"
    mapping = compiled(tmp_path, document(updates=updates))
    update = mapping.request_update({"id": 7, "ticket_id": 12, "state": "fixed", "at": NOW})
    assert update.update_id == "7"
    assert update.service_request_id == "12"
    assert update.status is UpdateStatus.FIXED
    assert update.external_status_code == "fixed"
    assert update.description == ""
    comment = mapping.request_update({"id": 8, "ticket_id": 12, "at": NOW, "note": "hi"})
    assert (comment.status, comment.description) == (UpdateStatus.OPEN, "hi")


def test_reverse_table_reads_a_code_back(tmp_path: Path) -> None:
    mapping = compiled(tmp_path, document())
    assert mapping.service_request({**RECORD, "category": "streets"}).service_code == "DOG"


def test_updates_are_optional(tmp_path: Path) -> None:
    mapping = compiled(tmp_path, document(updates=""))
    update = NewRequestUpdate(
        service_request_id="1",
        update_id="u",
        status=UpdateStatus.OPEN,
        updated_datetime=NOW,
        description="",
    )
    with pytest.raises(MappingError, match=r"updates\.create"):
        mapping.update_payload(update, CONTEXT)
    with pytest.raises(MappingError, match=r"updates\.read"):
        mapping.request_update({"id": 1})


# --- backend queries ------------------------------------------------------------------


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


# --- load errors ----------------------------------------------------------------------


def test_invalid_yaml(tmp_path: Path) -> None:
    text = document() + "  bad: [unclosed\n"
    [error] = load_errors(tmp_path, text)
    assert error.startswith(f"{tmp_path / 'city.yaml'}:")
    assert "invalid YAML" in error


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(FileErrors, match="cannot read"):
        load_mapping(tmp_path / "missing.yaml")


def test_misspelt_option_of_an_operation(tmp_path: Path) -> None:
    text = document(create="    summary: {from: description, defualt: x}\n")
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'defualt')}: requests.create.summary.defualt: unknown key 'defualt'"
    ]


def test_entry_without_an_operation_key(tmp_path: Path) -> None:
    text = document(create="    summary: {form: description}\n    n: 5\n")
    message = "an entry needs one of the keys 'from' or 'const' (or a field path as text)"
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'summary')}: requests.create.summary: {message}",
        f"{at(tmp_path, text, 'n: 5')}: requests.create.n: {message}",
    ]


def test_shape_errors_are_all_reported(tmp_path: Path) -> None:
    text = document().replace("connector: sql\n", "connector: sql\ncolour: blue\n")
    text = text.replace("    values: {POT: roads, DOG: streets}\n", "    values: [roads]\n")
    errors = load_errors(tmp_path, text)
    assert errors == [
        f"{at(tmp_path, text, 'values: [roads]')}: tables.category.values: "
        "Input should be a valid dictionary",
        f"{at(tmp_path, text, 'colour')}: colour: unknown key 'colour'",
    ]


def test_missing_section(tmp_path: Path) -> None:
    text = BACKEND
    assert load_errors(tmp_path, text) == [
        f"{tmp_path / 'city.yaml'}: requests: required key is missing"
    ]


def test_unknown_request_source(tmp_path: Path) -> None:
    text = document(create="    mail: {from: e_mail}\n    when: context.today\n")
    known = (
        "service_code, lat, long, address_string, address_id, description, email, "
        "device_id, account_id, first_name, last_name, phone, media_url, attributes, "
        "attributes.CODE, context.jurisdiction_id, context.idempotency_key, context.now"
    )
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'from: e_mail')}: requests.create.mail.from: unknown source "
        f"'e_mail' for a new Open311 request; known: {known}",
        f"{at(tmp_path, text, 'when')}: requests.create.when.from: unknown source "
        f"'context.today' for a new Open311 request; known: {known}",
    ]


def test_unknown_update_source(tmp_path: Path) -> None:
    updates = UPDATES.replace("ticket_id: service_request_id", "ticket_id: ticket")
    text = document(updates=updates)
    [error] = load_errors(tmp_path, text)
    assert error.startswith(
        f"{at(tmp_path, text, 'ticket_id: ticket')}: updates.create.ticket_id.from: unknown "
        "source 'ticket' for a citizen's update; known: service_request_id, update_id, status"
    )


def test_bad_field_paths(tmp_path: Path) -> None:
    text = document(create="    a..b: {const: 1}\n", read=READ + "    address: where..street\n")
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'a..b')}: requests.create.a..b: "
        "'a..b' is not a field path: a segment is empty",
        f"{at(tmp_path, text, 'address')}: requests.read.address.from: "
        "'where..street' is not a field path: a segment is empty",
    ]


def test_target_inside_another_target(tmp_path: Path) -> None:
    text = document(create="    history: {const: x}\n    history.note: {const: y}\n")
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'history.note')}: requests.create.history.note: "
        "'history.note' is inside 'history', which is mapped too"
    ]


def test_unknown_table_and_reverse_without_table(tmp_path: Path) -> None:
    text = document(
        create="    c: {from: service_code, table: cats}\n    d: {from: lat, reverse: true}\n"
    )
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'table: cats')}: requests.create.c.table: "
        "no table 'cats' (tables: status, category, mood)",
        f"{at(tmp_path, text, 'reverse: true}')}: requests.create.d.reverse: "
        "reverse reads a table backwards: name the table",
    ]


def test_table_read_backwards_needs_one_key_per_value(tmp_path: Path) -> None:
    read = READ.replace("{from: category, table: category, reverse: true}", "category") + (
        "    description: {from: state, table: status, reverse: true}\n"
    )
    text = document(read=read)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'reverse: true')}: requests.read.description.reverse: "
        "table 'status' cannot be read backwards: several keys give 'open', 'closed'"
    ]


def test_service_code_tables_are_checked_against_the_catalogue(tmp_path: Path) -> None:
    tables = TABLES.replace("{POT: roads, DOG: streets}", "{POT: roads, PTO: parks}")
    text = document(create="    category: {from: service_code, table: category}\n", tables=tables)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'PTO')}: tables.category.values.PTO: "
        "'PTO' is not a service code of this mapping",
        f"{at(tmp_path, text, 'table: category')}: requests.create.category.table: "
        "table 'category' has no entry for DOG and no fallback",
    ]


def test_a_fallback_covers_missing_service_codes(tmp_path: Path) -> None:
    tables = TABLES.replace("{POT: roads, DOG: streets}", "{POT: roads}\n    fallback: misc")
    text = document(create="    category: {from: service_code, table: category}\n", tables=tables)
    mapping = compiled(tmp_path, text)
    assert mapping.create_payload(request(service_code="DOG"), CONTEXT) == {"category": "misc"}


def test_citizen_status_tables_are_checked(tmp_path: Path) -> None:
    tables = TABLES.replace("{OPEN: null, FIXED: DONE}", "{OPEN: null, FIXD: DONE}")
    text = document(tables=tables)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'FIXD')}: tables.mood.values.FIXD: "
        "'FIXD' is not a citizen update status"
    ]


def test_status_values_must_be_open311_statuses(tmp_path: Path) -> None:
    tables = TABLES.replace(
        "DONE: closed, VOID: closed}", "DONE: closed, VOID: shut}\n    fallback: x"
    )
    updates = UPDATES.replace("{from: state, default: open}", "{const: done}")
    text = document(tables=tables, updates=updates)
    statuses = ", ".join(status.value for status in UpdateStatus)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'VOID')}: tables.status.values.VOID: "
        "'shut' cannot be the status of an Open311 request (open, closed)",
        f"{at(tmp_path, text, 'fallback: x')}: tables.status.fallback: "
        "'x' cannot be the status of an Open311 request (open, closed)",
        f"{at(tmp_path, text, 'const: done')}: updates.read.status.const: "
        f"'done' cannot be the status of an Open311 request update ({statuses})",
    ]


def test_read_sections_name_open311_fields(tmp_path: Path) -> None:
    read = "    service_request_id: id\n    state: state\n"
    text = document(read=read)
    errors = load_errors(tmp_path, text)
    assert errors[0].startswith(
        f"{at(tmp_path, text, 'state: state')}: requests.read.state: "
        "'state' is not a field of an Open311 request (fields: service_request_id, status,"
    )
    assert errors[1] == (
        f"{at(tmp_path, text, 'read:')}: requests.read: status, service_code, "
        "requested_datetime must be mapped: an Open311 request needs them"
    )
    assert len(errors) == 2


def test_searched_fields_must_be_read_from_a_field(tmp_path: Path) -> None:
    text = document(read=READ.replace("{from: state, table: status}", "{const: open}"))
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'status: {const')}: requests.read.status: "
        "status must be read with 'from', so that requests can be searched by it"
    ]


def test_catalogue_errors(tmp_path: Path) -> None:
    services = """\
services:
  - service_code: POT
    service_name: Pothole
    metadata: true
  - service_code: DOG
    service_name: Dog fouling
    metadata: false
    attributes:
      - {code: size, datatype: singlevaluelist, order: 1, description: Size}
      - {code: size, datatype: string, order: 1, description: Again, values: [{key: a, name: A}]}
  - {service_code: POT, service_name: Pothole again, metadata: false}
"""
    text = document(services=services)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'metadata: true')}: services.0.metadata: "
        "metadata is true but the service lists no attributes",
        f"{at(tmp_path, text, 'metadata: false', 1)}: services.1.metadata: "
        "metadata is false but the service lists attributes",
        f"{at(tmp_path, text, '{code: size')}: "
        "services.1.attributes.0.values: a singlevaluelist attribute needs values",
        f"{at(tmp_path, text, 'code: size', 2)}: services.1.attributes.1.code: "
        "attribute code 'size' is already used",
        f"{at(tmp_path, text, 'order: 1', 2)}: services.1.attributes.1.order: "
        "order 1 is already used by attribute 'size'",
        f"{at(tmp_path, text, 'values: [')}: services.1.attributes.1.values: "
        "values are only for singlevaluelist and multivaluelist attributes",
        f"{at(tmp_path, text, 'service_code: POT', 2)}: services.2.service_code: "
        "service code 'POT' is already used by services.0",
    ]


def test_unknown_connector(tmp_path: Path) -> None:
    text = document().replace("connector: sql", "connector: fax")
    [error] = load_errors(tmp_path, text)
    assert error.startswith(f"{at(tmp_path, text, 'connector')}: connector: no connector 'fax'")


def test_backend_section_is_checked_by_the_connector(tmp_path: Path) -> None:
    text = document().replace("    reference: ref\n", "    reference: refs\n    colour: x\n")
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'colour')}: backend.tickets.colour: unknown key 'colour'",
    ]
    text = document().replace("    reference: ref\n", "    reference: refs\n")
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'tickets')}: backend.tickets: "
        "reference 'refs' is not one of the columns",
    ]


def test_every_consistency_problem_at_once(tmp_path: Path) -> None:
    text = document(
        create="    mail: {from: e_mail}\n    c: {from: lat, table: nope}\n",
        services=SERVICES + "  - {service_code: DOG, service_name: Dog, metadata: false}\n",
    )
    errors = load_errors(tmp_path, text)
    assert [error.split(": ")[1] for error in errors] == [
        "services.2.service_code",
        "requests.create.mail.from",
        "requests.create.c.table",
    ]


# --- the embedded mapping -------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded() -> CompiledMapping:
    return load_mapping(mapping_path("embedded.yaml"))


def test_embedded_catalogue(embedded: CompiledMapping) -> None:
    services = {service.service_code: service for service in embedded.services}
    assert len(services) >= 7
    assert any(service.type is ServiceType.BATCH for service in services.values())
    assert any(not service.metadata for service in services.values())
    assert all(service.group and service.keywords for service in services.values())
    assert set(embedded.definitions) == {c for c, s in services.items() if s.metadata}
    every = {
        code
        for code, definition in embedded.definitions.items()
        if {a.datatype for a in definition.attributes if a.variable} == set(Datatype)
        and any(not a.variable for a in definition.attributes)
    }
    assert every


def test_embedded_golden_request(embedded: CompiledMapping) -> None:
    new = request(
        service_code="FLY",
        location=Location(lat=51.5, long=-0.1, address_string="Back Lane"),
        description="Tyres dumped",
        email="ann@example.org",
        first_name="Ann",
        media_urls=("http://img/1.jpg",),
        attributes={"waste_types": ("tyres",), "amount": "van"},
    )
    assert embedded.create_payload(new, CONTEXT) == {
        "category": "ENV-FLY",
        "dept": "STREETCARE",
        "state": "NEW",
        "summary": "Tyres dumped",
        "latitude": 51.5,
        "longitude": -0.1,
        "location_text": "Back Lane",
        "reporter_email": "ann@example.org",
        "reporter_first_name": "Ann",
        "photo_url": "http://img/1.jpg",
        "details": {"waste_types": ["tyres"], "amount": "van"},
        "channel": "OPEN311",
        "created_at": NOW,
        "updated_at": NOW,
        "history": {
            "state": "NEW",
            "note": "Reported through Open311",
            "photo_url": "http://img/1.jpg",
            "source": "open311",
        },
    }


def _stored(payload: dict, ticket_no: int) -> dict:
    """What the ticket table would hold: the payload's columns, an id and the reference."""
    row = {key: value for key, value in payload.items() if key != "history"}
    return {**row, "ticket_no": ticket_no, "external_ref": CONTEXT.idempotency_key}


def test_embedded_round_trip_of_every_service(embedded: CompiledMapping) -> None:
    for number, service in enumerate(embedded.services, start=1):
        new = request(
            service_code=service.service_code,
            location=Location(lat=51.5, long=-0.1, address_string="1 High St", address_id="U1"),
            description="Please fix",
            media_urls=("http://img/1.jpg",),
        )
        stored = _stored(embedded.create_payload(new, CONTEXT), number)
        found = embedded.service_request(stored)
        assert found.service_request_id == embedded.service_request_id(stored) == str(number)
        assert found.service_code == service.service_code
        assert found.status is RequestStatus.OPEN
        assert (found.lat, found.long) == (51.5, -0.1)
        assert (found.address, found.address_id) == ("1 High St", "U1")
        assert (found.description, found.media_url) == ("Please fix", "http://img/1.jpg")
        assert found.requested_datetime == NOW
        assert found.agency_responsible


def test_a_record_without_an_id_is_a_mapping_error(embedded: CompiledMapping) -> None:
    with pytest.raises(MappingError, match="no value for service_request_id"):
        embedded.service_request_id({"category": "RD-POT"})


@pytest.mark.parametrize(
    ("state", "status", "update_status"),
    [
        ("NEW", "open", "open"),
        ("TRIAGED", "open", "investigating"),
        ("ASSIGNED", "open", "in_progress"),
        ("SCHEDULED", "open", "action_scheduled"),
        ("DONE", "closed", "fixed"),
        ("REJECTED", "closed", "not_councils_responsibility"),
        ("DUPLICATE", "closed", "duplicate"),
    ],
)
def test_embedded_statuses(
    embedded: CompiledMapping, state: str, status: str, update_status: str
) -> None:
    payload = embedded.create_payload(request(service_code="DOG"), CONTEXT)
    ticket = {**_stored(payload, 5), "state": state}
    assert embedded.service_request(ticket).status == status
    change = {"history_id": 9, "ticket_no": 5, "state": state, "changed_at": NOW, "ticket": ticket}
    update = embedded.request_update(change)
    assert (update.update_id, update.status, update.external_status_code) == (
        "9",
        update_status,
        state,
    )
    query = embedded.backend_query(RequestQuery(statuses=(RequestStatus(status),)))
    assert state in query.any_of["state"]


def test_embedded_citizen_updates(embedded: CompiledMapping) -> None:
    update = NewRequestUpdate(
        service_request_id="5",
        update_id="fms-1",
        status=UpdateStatus.FIXED,
        updated_datetime=NOW - timedelta(minutes=5),
        description="Looks fixed to me",
        media_url="http://img/2.jpg",
    )
    context = MappingContext("example.city", "fms-1", NOW)
    assert embedded.update_payload(update, context) == {
        "ticket_no": "5",
        "state": "DONE",
        "note": "Looks fixed to me",
        "photo_url": "http://img/2.jpg",
        "changed_at": NOW,
        "source": "citizen",
        "ticket": {"state": "DONE", "updated_at": NOW},
    }
    comment = update.model_copy(update={"status": UpdateStatus.OPEN})
    payload = embedded.update_payload(comment, context)
    assert "state" not in payload and payload["ticket"] == {"updated_at": NOW}
    stored = {**payload, "history_id": 31, "changed_at": NOW.astimezone(timezone(timedelta(0)))}
    assert embedded.request_update(stored).status is UpdateStatus.OPEN


def test_embedded_query_for_service_codes(embedded: CompiledMapping) -> None:
    query = embedded.backend_query(RequestQuery(service_codes=("POT", "BULKY")))
    assert query.any_of == {"category": ("RD-POT", "WST-BULK")}
    assert query.order_by == "created_at"
