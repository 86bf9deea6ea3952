"""Every problem a mapping file can have, each located and reported with the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.mapping import load_mapping
from gateway.open311.models import UpdateStatus
from gateway.yamlfile import FileErrors

from mappingfiles import (
    BACKEND,
    CONTEXT,
    READ,
    SERVICES,
    TABLES,
    UPDATES,
    at,
    compiled,
    document,
    load_errors,
    request,
)

KNOWN_REQUEST_SOURCES = (
    "service_code, lat, long, address_string, address_id, description, email, "
    "device_id, account_id, first_name, last_name, phone, media_url, attributes, "
    "attributes.CODE, context.jurisdiction_id, context.idempotency_key, context.now"
)


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
    message = (
        "an entry needs one of the keys 'from', 'const', 'template' or 'when' "
        "(or a field path as text)"
    )
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
    known = KNOWN_REQUEST_SOURCES
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
    tables = TABLES.replace("DONE: closed, VOID: closed}", "DONE: closed, VOID: shut}").replace(
        "fallback: open", "fallback: x"
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


def test_a_status_table_without_fallback_or_default(tmp_path: Path) -> None:
    tables = TABLES.replace("    fallback: open\n", "")
    updates = UPDATES.replace(
        "status: {from: state, default: open}",
        "status:\n      when:\n        - if: {field: kind, equals: x}\n"
        "          then: {from: state, table: status}\n"
        "      else: {from: state, table: status, default: closed}",
    )
    text = document(tables=tables, updates=updates)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'table: status}')}: requests.read.status.table: table 'status' "
        "has no fallback and the entry no default: a backend value missing from the table "
        "would leave status unmapped",
        f"{at(tmp_path, text, 'table: status}', 2)}: updates.read.status.when.0.then.table: "
        "table 'status' has no fallback and the entry no default: a backend value missing "
        "from the table would leave status unmapped",
    ]


def test_modifier_problems(tmp_path: Path) -> None:
    create = (
        "    a: {from: description, split: ',', join: ';'}\n"
        "    b: {from: description, truncate: 0}\n"
        "    c: {from: attributes.n, convert: int, truncate: 3}\n"
        "    d: {from: attributes.n, convert: {to: int, format: '%d', timezone: UTC}}\n"
        "    e: {from: context.now, convert: {to: datetime, timezone: Europe/Lundon}}\n"
        "    f: {from: context.now, convert: {to: date, timezone: ../etc/passwd}}\n"
        "    g: {from: context.now, convert: {to: datetime, format: '%Y'}, truncate: 2}\n"
        "    h: {from: attributes.n, convert: int, table: category, truncate: 2}\n"
    )
    text = document(create=create)
    loc = "requests.create"
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'join')}: {loc}.a.join: "
        "split and join cannot be combined: split makes a list of text",
        f"{at(tmp_path, text, 'truncate: 0')}: {loc}.b.truncate: truncate must be at least 1",
        f"{at(tmp_path, text, 'truncate: 3')}: {loc}.c.truncate: "
        "truncate cuts text, but convert gives int",
        f"{at(tmp_path, text, 'format')}: {loc}.d.convert.format: "
        "format is only for datetime and date, not int",
        f"{at(tmp_path, text, 'timezone: UTC')}: {loc}.d.convert.timezone: "
        "timezone is only for datetime and date, not int",
        f"{at(tmp_path, text, 'timezone: Europe')}: {loc}.e.convert.timezone: "
        "unknown time zone 'Europe/Lundon'",
        f"{at(tmp_path, text, 'timezone: ../')}: {loc}.f.convert.timezone: "
        "unknown time zone '../etc/passwd'",
    ]


def test_truncate_after_a_conversion_to_text_or_a_table(tmp_path: Path) -> None:
    create = (
        "    g: {from: context.now, convert: {to: datetime, format: '%Y'}, truncate: 2}\n"
        "    h: {from: service_code, convert: str, table: category, truncate: 2}\n"
    )
    mapping = compiled(tmp_path, document(create=create))
    assert mapping.create_payload(request(), CONTEXT) == {"g": "20", "h": "ro"}


def test_truncate_after_reading_a_date_time_is_an_error(tmp_path: Path) -> None:
    read = (
        READ
        + "    updated_datetime: {from: at, convert: {to: datetime, format: '%Y'}, truncate: 2}\n"
    )
    text = document(read=read)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'truncate')}: requests.read.updated_datetime.truncate: "
        "truncate cuts text, but convert gives datetime",
    ]


@pytest.mark.parametrize(
    ("entry", "key", "needle", "message"),
    [
        (
            "{from: lat, convert: number}",
            "convert.to",
            "convert",
            "Input should be 'int', 'decimal', 'float', 'bool', 'str', 'datetime' or 'date'",
        ),
        (
            "{from: lat, convert: {format: '%Y'}}",
            "convert.to",
            "convert",
            "required key is missing",
        ),
        (
            "{from: lat, convert: {to: str, zone: UTC}}",
            "convert.zone",
            "zone",
            "unknown key 'zone'",
        ),
        ("{from: lat, split: ''}", "split", "split", "String should have at least 1 character"),
        (
            "{from: lat, truncate: many}",
            "truncate",
            "truncate",
            "Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            "{from: lat, reverse: maybe}",
            "reverse",
            "reverse",
            "Input should be a valid boolean, unable to interpret input",
        ),
        ("{template: 3}", "template", "template", "Input should be a valid string"),
        ("{from: lat, table: [a]}", "table", "table: [", "Input should be a valid string"),
        ("{from: ''}", "from", "from", "String should have at least 1 character"),
        ("{const: 1, template: '{lat}'}", "template", "template", "unknown key 'template'"),
    ],
)
def test_wrong_types_in_operations(
    tmp_path: Path, entry: str, key: str, needle: str, message: str
) -> None:
    text = document(create=f"    out: {entry}\n")
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, needle)}: requests.create.out.{key}: {message}"
    ]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{first_name", "a '{' opens a placeholder that is never closed"),
        ("}", "a '}' closes no placeholder: write '}}' for a brace"),
        ("{}", "a placeholder needs a source name: write '{{' for a brace"),
        ("fixed", "the template has no placeholder: use const for fixed text"),
        (
            "{frist_name} {last_name}",
            "placeholder {frist_name}: unknown source 'frist_name' for a new Open311 request; "
            f"known: {KNOWN_REQUEST_SOURCES}",
        ),
    ],
)
def test_template_problems(tmp_path: Path, template: str, message: str) -> None:
    text = document(create=f"    out: {{template: {template!r}, truncate: 0}}\n")
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'template')}: requests.create.out.template: {message}",
        f"{at(tmp_path, text, 'truncate')}: requests.create.out.truncate: "
        "truncate must be at least 1",
    ]


def test_a_list_and_a_record_in_one_place(tmp_path: Path) -> None:
    create = (
        "    items.0.name: first_name\n    items.x: last_name\n    a.b: email\n    a.0: phone\n"
    )
    text = document(create=create)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'items.x')}: requests.create.items.x: "
        "'items' cannot be both a list and a record: 'items.0.name' makes it a list",
        f"{at(tmp_path, text, 'a.0')}: requests.create.a.0: "
        "'a' cannot be both a list and a record: 'a.b' makes it a record",
    ]


def test_duplicate_service_codes_and_attribute_orders(tmp_path: Path) -> None:
    services = SERVICES + (
        "  - service_code: DOG\n"
        "    service_name: Dog again\n"
        "    metadata: true\n"
        "    attributes:\n"
        "      - {code: a, datatype: string, order: 2, description: A}\n"
        "      - {code: b, datatype: string, order: 2, description: B}\n"
    )
    text = document(services=services)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'service_code: DOG', 2)}: services.2.service_code: "
        "service code 'DOG' is already used by services.1",
        f"{at(tmp_path, text, 'order: 2', 2)}: services.2.attributes.1.order: "
        "order 2 is already used by attribute 'a'",
    ]


def test_every_error_of_every_kind_at_once(tmp_path: Path) -> None:
    create = (
        "    a: {template: '{nope}'}\n"
        "    b: {from: lat, convert: {to: datetime, timezone: Mars/Base}}\n"
        "    c: {when: [{if: {field: service_code, equals: CAT}, then: {const: 1}}]}\n"
    )
    text = document(create=create)
    assert [error.split(": ")[1] for error in load_errors(tmp_path, text)] == [
        "requests.create.a.template",
        "requests.create.b.convert.timezone",
        "requests.create.c.when.0.if.equals",
    ]


def test_formats_that_cannot_read_backend_text(tmp_path: Path) -> None:
    read = READ + (
        "    updated_datetime: {from: at, convert: {to: datetime, format: '%d/%q'}}\n"
        "    expected_datetime: {from: due, convert: {to: date, format: '%Y-%Y'}}\n"
    )
    text = document(read=read)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'format')}: requests.read.updated_datetime.convert.format: "
        "not a date-time format: 'q' is a bad directive in format '%d/%q'",
        f"{at(tmp_path, text, 'format', 2)}: requests.read.expected_datetime.convert.format: "
        "not a date-time format: a directive is used twice",
    ]
