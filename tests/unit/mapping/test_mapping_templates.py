"""Templates: placeholders resolved at load, filled without running anything."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.mapping import MappingError
from gateway.mapping.templates import TemplateError, parse_template
from gateway.open311.models import Location

from mappingfiles import NOW, UPDATES, compiled, created, document, read_back, request


def filled(tmp_path: Path, template: str, **fields: Any) -> Any:
    entries = f"    out: {{template: {template!r}}}\n"
    return created(tmp_path, entries, request(**fields)).get("out")


def test_placeholders_are_filled(tmp_path: Path) -> None:
    assert filled(tmp_path, "{first_name} {last_name}", first_name="Ann", last_name="Lee") == (
        "Ann Lee"
    )
    text = "{service_code}/{attributes.depth}cm at {lat},{long} ({context.idempotency_key})"
    assert filled(tmp_path, text, attributes={"depth": "12"}) == "POT/12cm at 51.5,-0.1 (key-1)"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"first_name": "Ann"}, "Ann"),
        ({"last_name": "Lee"}, "Lee"),
        ({"first_name": "Ann", "last_name": "Lee"}, "Ann Lee"),
        ({"first_name": "", "last_name": "Lee"}, "Lee"),
        ({}, None),
    ],
)
def test_missing_values_leave_no_gap(tmp_path: Path, fields: dict, expected: Any) -> None:
    assert filled(tmp_path, "  {first_name} {last_name}  ", **fields) == expected


def test_only_the_spaces_around_a_missing_value_collapse(tmp_path: Path) -> None:
    text = "Dear {first_name} {phone} {last_name},  thanks"
    assert filled(tmp_path, text, first_name="Ann", last_name="Lee") == "Dear Ann Lee,  thanks"
    assert filled(tmp_path, "{first_name}  {last_name}", first_name="A", last_name="L") == "A  L"


def test_a_template_with_no_value_takes_the_default(tmp_path: Path) -> None:
    entries = "    out: {template: '{first_name} {last_name}', default: anonymous}\n"
    assert created(tmp_path, entries) == {"out": "anonymous"}


def test_braces_are_written_doubled(tmp_path: Path) -> None:
    assert filled(tmp_path, "{{{service_code}}} }}{{", attributes={}) == "{POT} }{"


def test_values_written_into_text(tmp_path: Path) -> None:
    entries = (
        "    list: {template: 'kinds: {attributes.kinds}'}\n"
        "    when: {template: 'at {context.now}'}\n"
    )
    payload = created(tmp_path, entries, request(attributes={"kinds": ("a", "b")}))
    assert payload == {"list": "kinds: a, b", "when": "at 2026-05-01T12:00:00+00:00"}
    record = {"n": 4, "x": Decimal("1.50"), "ok": True, "day": date(2026, 5, 1), "none": None}
    found = read_back(
        tmp_path, "    status_notes: {template: '{n} {x} {ok} {day} {none}|'}\n", record
    )
    assert found["status_notes"] == "4 1.50 true 2026-05-01 |"


def test_a_value_that_cannot_be_text(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as caught:
        read_back(tmp_path, "    status_notes: {template: 'see {n}'}\n", {"n": {"k": "v"}})
    assert str(caught.value) == "status_notes: a dict cannot be written into a template"


def test_templates_take_the_modifiers(tmp_path: Path) -> None:
    entries = (
        "    short: {template: '{description} ({service_code})', truncate: 6}\n"
        "    code: {template: '{service_code}', table: category}\n"
    )
    payload = created(tmp_path, entries, request(description="A deep hole"))
    assert payload == {"short": "A deep", "code": "roads"}


def test_a_stable_update_id_from_backend_fields(tmp_path: Path) -> None:
    updates = UPDATES.replace("update_id: id", "update_id: {template: '{ticket_id}-{id}'}")
    mapping = compiled(tmp_path, document(updates=updates))
    update = mapping.request_update({"id": 7, "ticket_id": 12, "state": "fixed", "at": NOW})
    assert update.update_id == "12-7"


def test_nothing_in_a_template_is_evaluated(tmp_path: Path) -> None:
    record = {"__class__": "x", "a": "{first_name}"}
    entries = "    status_notes: {template: '{a} {__class__.__name__}'}\n"
    assert read_back(tmp_path, entries, record)["status_notes"] == "{first_name}"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{first_name", "a '{' opens a placeholder that is never closed"),
        ("name}", "a '}' closes no placeholder: write '}}' for a brace"),
        ("{}", "a placeholder needs a source name: write '{{' for a brace"),
        ("{a{b}", "a placeholder needs a source name: write '{{' for a brace"),
        ("plain {{text}}", "the template has no placeholder: use const for fixed text"),
    ],
)
def test_templates_that_cannot_be_parsed(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse_template(template)
    assert str(caught.value) == message


def test_parsed_template_parts() -> None:
    parsed = parse_template("{{x}} {a.b c}-{d}")
    assert (parsed.literals, parsed.names) == (("{x} ", "-", ""), ("a.b c", "d"))


def test_lat_written_into_text(tmp_path: Path) -> None:
    new = request(location=Location(lat=1.25, long=2.0))
    assert created(tmp_path, "    at: {template: '{lat};{long}'}\n", new) == {"at": "1.25;2.0"}
