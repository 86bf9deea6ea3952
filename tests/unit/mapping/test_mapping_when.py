"""`when` rules: conditions on the section's sources choose a value."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.mapping import CompiledMapping
from gateway.open311.models import NewRequestUpdate, UpdateStatus

from mappingfiles import (
    CONTEXT,
    LIST_ATTRIBUTE_SERVICES,
    NOW,
    UPDATES,
    at,
    compiled,
    document,
    load_errors,
    read_back,
    request,
)

TABLES = """\
tables:
  status:
    values: {NEW: open, DONE: closed}
    fallback: open
  category:
    values: {POT: roads, FLY: waste, DOG: streets}
  mood:
    values: {OPEN: null, FIXED: DONE}
    fallback: WORK
"""
PRIORITY = """\
    priority:
      when:
        - if: {field: attributes.position, equals: junction}
          then: {const: HIGH}
        - if: {field: attributes.waste, in: [needles]}
          then: {const: HIGH}
        - if:
            all:
              - {field: service_code, in: [POT, FLY]}
              - any: [{field: attributes.depth, present: true}, {field: email, present: false}]
          then: {template: 'P-{service_code}'}
      else: {const: LOW}
"""


def mapping(tmp_path: Path, create: str = PRIORITY, **parts: str) -> CompiledMapping:
    return compiled(
        tmp_path, document(create=create, tables=TABLES, services=LIST_ATTRIBUTE_SERVICES, **parts)
    )


@pytest.mark.parametrize(
    ("fields", "priority"),
    [
        ({"attributes": {"position": "junction"}}, "HIGH"),
        ({"attributes": {"position": "road", "depth": "3"}}, "P-POT"),
        ({"service_code": "FLY", "attributes": {"waste": ("tyres", "needles")}}, "HIGH"),
        ({"service_code": "FLY", "attributes": {"waste": ("tyres",)}}, "P-FLY"),
        ({"service_code": "FLY", "email": "a@b.c"}, "LOW"),
        ({"attributes": {"position": "road"}}, "P-POT"),
        ({"attributes": {"position": "road"}, "email": "a@b.c"}, "LOW"),
        ({"service_code": "DOG"}, "LOW"),
    ],
)
def test_the_first_rule_that_holds_gives_the_value(
    tmp_path: Path, fields: dict[str, Any], priority: str
) -> None:
    payload = mapping(tmp_path).create_payload(request(**fields), CONTEXT)
    assert payload == {"priority": priority}


def test_without_else_no_rule_means_no_value(tmp_path: Path) -> None:
    create = (
        "    urgent:\n      when:\n        - {if: {field: phone, present: true}, then: phone}\n"
    )
    compiled_mapping = mapping(tmp_path, create)
    assert compiled_mapping.create_payload(request(), CONTEXT) == {}
    assert compiled_mapping.create_payload(request(phone="0123"), CONTEXT) == {"urgent": "0123"}


def test_rules_nest_and_then_takes_any_operation(tmp_path: Path) -> None:
    create = """\
    team:
      when:
        - if: {field: service_code, equals: POT}
          then:
            when:
              - if: {field: attributes.position, equals: junction}
                then: {const: JUNCTIONS}
            else: {from: service_code, table: category}
      else: {from: description, default: none}
"""
    compiled_mapping = mapping(tmp_path, create)
    team = [
        compiled_mapping.create_payload(request(**fields), CONTEXT)["team"]
        for fields in (
            {"attributes": {"position": "junction"}},
            {},
            {"service_code": "DOG", "description": "x"},
            {"service_code": "DOG"},
        )
    ]
    assert team == ["JUNCTIONS", "roads", "x", "none"]


def test_values_are_compared_as_the_section_gives_them(tmp_path: Path) -> None:
    create = """\
    depth:
      when:
        - {if: {field: attributes.depth, equals: 5}, then: {const: number}}
        - {if: {field: attributes.depth, in: ['5']}, then: {const: text}}
"""
    payload = mapping(tmp_path, create).create_payload(request(attributes={"depth": "5"}), CONTEXT)
    assert payload == {"depth": "text"}


def test_rules_in_reading_sections(tmp_path: Path) -> None:
    entries = """\
    service_notice:
      when:
        - if: {field: state, equals: DONE}
          then: {const: Fixed}
        - if: {field: flags, in: [late, urgent]}
          then: {template: 'Flagged: {flags}'}
        - if: {field: owner.name, present: true}
          then: owner.name
"""
    notices = [
        read_back(tmp_path, entries, record).get("service_notice")
        for record in (
            {"state": "DONE"},
            {"flags": ["x", "late"]},
            {"owner": {"name": "Team A"}},
            {"flags": "urgent"},
            {},
        )
    ]
    assert notices == ["Fixed", "Flagged: x, late", "Team A", "Flagged: urgent", None]


@pytest.mark.parametrize(
    "value",
    [{"a": 1}, [{"a": 1}], Decimal("sNaN"), [Decimal("sNaN")], b"late", float("nan")],
    ids=["dict", "list-of-dicts", "snan", "list-of-snan", "bytes", "nan"],
)
def test_values_that_cannot_be_compared_fail_the_test(tmp_path: Path, value: Any) -> None:
    entries = """\
    service_notice:
      when:
        - {if: {field: x, equals: late}, then: {const: equal}}
        - {if: {field: x, in: [late]}, then: {const: listed}}
      else: {const: neither}
"""
    assert read_back(tmp_path, entries, {"x": value})["service_notice"] == "neither"


def test_conditions_on_a_citizen_update(tmp_path: Path) -> None:
    updates = UPDATES.replace(
        "    state: {from: status, table: mood}\n",
        "    state: {from: status, table: mood}\n"
        "    alert:\n"
        "      when: [{if: {field: status, in: [REOPEN, NOT_COUNCILS_RESPONSIBILITY]}, "
        "then: {const: true}}]\n",
    )
    compiled_mapping = mapping(tmp_path, updates=updates)
    update = NewRequestUpdate(
        service_request_id="1",
        update_id="u",
        status=UpdateStatus.REOPEN,
        updated_datetime=NOW,
        description="",
    )
    assert compiled_mapping.update_payload(update, CONTEXT)["alert"] is True


# --- load errors ------------------------------------------------------------------------


def test_conditions_are_checked_at_load(tmp_path: Path) -> None:
    create = """\
    a:
      when:
        - {if: {field: attributes.position, equals: junctoin}, then: {const: 1}}
        - {if: {field: attributes.waste, in: [tyres, needle]}, then: {const: 2}}
        - {if: {field: service_code, in: [POT, PTO]}, then: {const: 3}}
        - {if: {field: service_code, equals: 5}, then: {const: 4}}
        - {if: {any: [{field: e_mail, present: true}]}, then: {const: 5}}
        - {if: {field: attributes.depth, equals: deep}, then: {const: 6}}
        - {if: {field: email, present: true}, then: {from: e_mail}}
      else: {template: '{nope}'}
"""
    text = document(create=create, tables=TABLES, services=LIST_ATTRIBUTE_SERVICES)
    loc = "requests.create.a"
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'equals: junctoin')}: {loc}.when.0.if.equals: "
        "'junctoin' is not a value of attribute 'position'",
        f"{at(tmp_path, text, 'needle]')}: {loc}.when.1.if.in.1: "
        "'needle' is not a value of attribute 'waste'",
        f"{at(tmp_path, text, 'PTO')}: {loc}.when.2.if.in.1: "
        "'PTO' is not a service code of this mapping",
        f"{at(tmp_path, text, 'equals: 5')}: {loc}.when.3.if.equals: "
        "5 (write it as text, in quotes) is not a service code of this mapping",
        f"{at(tmp_path, text, 'field: e_mail')}: {loc}.when.4.if.any.0.field: "
        "unknown source 'e_mail' for a new Open311 request; known: service_code, lat, long, "
        "address_string, address_id, description, email, device_id, account_id, first_name, "
        "last_name, phone, media_url, attributes, attributes.CODE, context.jurisdiction_id, "
        "context.idempotency_key, context.now",
        f"{at(tmp_path, text, 'from: e_mail')}: {loc}.when.6.then.from: "
        "unknown source 'e_mail' for a new Open311 request; known: service_code, lat, long, "
        "address_string, address_id, description, email, device_id, account_id, first_name, "
        "last_name, phone, media_url, attributes, attributes.CODE, context.jurisdiction_id, "
        "context.idempotency_key, context.now",
        f"{at(tmp_path, text, 'template')}: {loc}.else.template: placeholder {{nope}}: "
        "unknown source 'nope' for a new Open311 request; known: service_code, lat, long, "
        "address_string, address_id, description, email, device_id, account_id, first_name, "
        "last_name, phone, media_url, attributes, attributes.CODE, context.jurisdiction_id, "
        "context.idempotency_key, context.now",
    ]


def test_the_shape_of_rules_is_checked(tmp_path: Path) -> None:
    create = """\
    a:
      when:
        - {if: {field: email, equals: x, in: [x]}, then: {const: 1}}
        - {if: {field: email, in: []}, then: {const: 2}}
        - {if: {all: []}, then: {const: 3}}
        - {if: {field: email, present: true}}
        - {if: {email: x}, then: {const: 5}, else: {const: 6}}
    b: {when: []}
"""
    text = document(create=create, tables=TABLES, services=LIST_ATTRIBUTE_SERVICES)
    condition = (
        "a condition is 'field' with exactly one of 'equals', 'in' or 'present', "
        "or 'all' or 'any' of conditions"
    )
    loc = "requests.create.a.when"
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'if: {field: email, equals')}: {loc}.0.if: {condition}",
        f"{at(tmp_path, text, 'in: []')}: {loc}.1.if.in: "
        "List should have at least 1 item after validation, not 0",
        f"{at(tmp_path, text, 'all: []')}: {loc}.2.if.all: "
        "List should have at least 1 item after validation, not 0",
        f"{at(tmp_path, text, '{if: {field: email, present: true}}')}: {loc}.3.then: "
        "required key is missing",
        f"{at(tmp_path, text, 'if: {email: x}')}: {loc}.4.if: {condition}",
        f"{at(tmp_path, text, 'else: {const: 6}')}: {loc}.4.else: unknown key 'else'",
        f"{at(tmp_path, text, 'when: []')}: requests.create.b.when: "
        "List should have at least 1 item after validation, not 0",
    ]
