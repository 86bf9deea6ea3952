"""The JSON Schema of the mapping format: generated from the models, shipped current,
pointed to by every example mapping, and agreeing with the loader on what is valid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from pydantic import TypeAdapter, ValidationError
from ruamel.yaml import YAML

from gateway.mapping import load_mapping
from gateway.mapping.operations import Operation
from gateway.mapping.schema import (
    SHIPPED_NAME,
    installed_connectors,
    mapping_schema,
    render_schema,
)
from mappings import mapping_path

from mappingfiles import compiled, document, load_errors

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = mapping_path(SHIPPED_NAME)
MODELINE = "# yaml-language-server: $schema="
REGENERATE = f"open311-gateway mapping schema --output mappings/{SHIPPED_NAME}"

MAPPING = document(
    create="""\
    state: {const: NEW}
    kind: service_code
    note: {from: description, default: ""}
    ref: context.idempotency_key
""",
    services="""\
services:
  - service_code: POT
    service_name: Pothole
    metadata: true
    attributes:
      - {code: depth, datatype: number, required: true, order: 1, description: How deep?}
""",
)

LANGUAGE = MAPPING.replace(
    "    ref: context.idempotency_key\n",
    """\
    ref: context.idempotency_key
    title: {template: "{first_name} {last_name}", truncate: 40, default: anonymous}
    depth: {from: attributes.depth, convert: decimal}
    words: {from: description, split: ",", table: null}
    items.0.text: {from: description, truncate: 10}
    due: {from: context.now, convert: {to: datetime, format: "%Y-%m-%d %H:%M", timezone: UTC}}
    priority:
      when:
        - if:
            all:
              - {field: service_code, in: [POT]}
              - any: [{field: attributes.depth, present: true}, {field: email, equals: x}]
          then: {const: HIGH}
        - {if: {field: attributes.depth, equals: 9}, then: lat}
      else: {const: NORMAL}
""",
).replace(
    "    requested_datetime: created\n",
    """\
    requested_datetime: created
    description: {template: "{state}: {kind}", default: ""}
    updated_datetime: {from: changed, convert: {to: datetime, format: "%d/%m/%Y %H:%M"}}
    address: {from: lines, join: ", "}
    lat: {from: y, convert: float}
""",
)
"""MAPPING with every operation and modifier of the language."""


def example_mappings() -> list[Path]:
    """Every YAML file under mappings/ and deploy/ whose top level names a connector."""
    found = []
    for folder in ("mappings", "deploy"):
        for path in sorted((ROOT / folder).rglob("*.y*ml")):
            document = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
            if isinstance(document, dict) and "connector" in document:
                found.append(path)
    return found


def parsed(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    return Draft202012Validator(mapping_schema(installed_connectors()))


def schema_errors(validator: Draft202012Validator, document: Any) -> list[str]:
    """Each error as an editor shows it: inside `anyOf` (a list or a mapping of services),
    the error of the branch the document is closest to."""
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in map(best_match, ([error] for error in validator.iter_errors(document)))
        if error is not None
    ]


def test_the_shipped_schema_is_what_the_models_generate() -> None:
    generated = render_schema(mapping_schema(installed_connectors()))
    shipped = SHIPPED.read_text(encoding="utf-8")
    assert shipped == generated, f"mappings/{SHIPPED_NAME} is stale; run `{REGENERATE}`"


def test_the_shipped_schema_is_a_draft_2020_12_schema() -> None:
    schema = json.loads(SHIPPED.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"] and schema["description"]


def test_the_examples_are_found() -> None:
    assert mapping_path("embedded.yaml") in example_mappings()


@pytest.mark.parametrize("path", example_mappings(), ids=lambda path: path.name)
def test_each_example_mapping_points_at_the_shipped_schema(path: Path) -> None:
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith(MODELINE), f"{path} does not start with `{MODELINE}...`"
    reference = Path(first_line.removeprefix(MODELINE))
    assert not reference.is_absolute()
    assert (path.parent / reference).resolve() == SHIPPED.resolve()


@pytest.mark.parametrize("path", example_mappings(), ids=lambda path: path.name)
def test_the_schema_accepts_each_example_mapping(
    path: Path, validator: Draft202012Validator
) -> None:
    load_mapping(path)
    assert schema_errors(validator, parsed(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize(
    "text",
    [
        MAPPING,
        MAPPING[: MAPPING.index("updates:")],
        MAPPING.replace("    ticket_id: service_request_id\n", "    note: {const: null}\n"),
        MAPPING.replace('default: ""', "default: {a: [1, 2]}, table: null, reverse: false"),
        LANGUAGE,
    ],
    ids=["full", "no updates", "const null", "every option", "the whole language"],
)
def test_the_schema_and_the_loader_accept_the_same_mappings(
    tmp_path: Path, validator: Draft202012Validator, text: str
) -> None:
    compiled(tmp_path, text)
    assert schema_errors(validator, parsed(text)) == []


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("tables:", "tabels:", ": Additional properties are not allowed ('tabels'"),
        ("{from: state, table: status}", "{form: state, table: status}", "requests.read.status"),
        ("{from: state, table: status}", "{from: state, tabel: status}", "requests.read.status"),
        ("{const: NEW}", "{const: NEW, from: state}", "requests.create.state"),
        ("kind: service_code", "kind: 5", "requests.create.kind"),
        ("kind: service_code", "kind: ''", "requests.create.kind"),
        ("requests:", "request:", ": 'requests' is a required property"),
        ("    values: {NEW: open, WORK", "    valuez: {NEW: open, WORK", "tables.status: 'values'"),
        ("    metadata: true\n", "", "services.0: 'metadata' is a required property"),
        ("datatype: number", "datatype: numeric", "services.0.attributes.0.datatype"),
        ("  history:\n", "  historie:\n", "backend: 'history' is a required property"),
        ("at: datetime}", "at: timestamp}", "backend.history.columns.at"),
        ("connector: sql", "connector: ''", "connector: '' should be non-empty"),
        ('template: "{first', 'tempalte: "{first', "requests.create.title"),
        ("truncate: 40", "truncate: forty", "requests.create.title"),
        ('split: ","', 'split: ""', "requests.create.words"),
        ("convert: decimal", "convert: decimals", "requests.create.depth"),
        ("timezone: UTC", "zone: UTC", "requests.create.due"),
        ("then: {const: HIGH}", "than: {const: HIGH}", "requests.create.priority"),
        ("equals: x}", "equals: x, in: [y]}", "requests.create.priority"),
        ("in: [POT]", "in: []", "requests.create.priority"),
        ("present: true", "present: maybe", "requests.create.priority"),
        ("else: {const: NORMAL}", "otherwise: {const: NORMAL}", "requests.create.priority"),
        ('join: ", "', "join: [', ']", "requests.read.address"),
    ],
    ids=[
        "unknown section",
        "misspelt from",
        "misspelt option",
        "two operations",
        "number entry",
        "empty shorthand",
        "missing section",
        "misspelt values",
        "service without metadata",
        "unknown datatype",
        "backend table missing",
        "unknown column type",
        "empty connector",
        "misspelt template",
        "truncate not a number",
        "empty split",
        "unknown conversion",
        "misspelt conversion option",
        "rule without then",
        "condition with two tests",
        "condition with no value",
        "present not a boolean",
        "misspelt else",
        "join not text",
    ],
)
def test_the_schema_flags_the_mistakes_the_loader_refuses(
    tmp_path: Path, validator: Draft202012Validator, old: str, new: str, where: str
) -> None:
    assert old in LANGUAGE
    text = LANGUAGE.replace(old, new, 1)
    assert load_errors(tmp_path, text)
    errors = schema_errors(validator, parsed(text))
    assert any(where in error for error in errors), errors


def test_the_backend_is_free_for_a_connector_without_a_model() -> None:
    schema = mapping_schema({"sql": installed_connectors()["sql"], "upstream": None})
    document = parsed(MAPPING.replace("connector: sql", "connector: upstream"))
    document["backend"] = {"anything": ["goes"]}
    assert schema_errors(Draft202012Validator(schema), document) == []
    assert schema["properties"]["connector"]["examples"] == ["sql", "upstream"]


OPERATION = TypeAdapter(Operation)
SCALARS = (
    st.none() | st.booleans() | st.integers(-2, 2) | st.sampled_from(["", "x", "state", "int"])
)
LEAVES = SCALARS | st.lists(SCALARS, max_size=2)
NAMES = st.sampled_from(["x", "state", "int"]) | SCALARS
"""Mostly a source name: the entries that need one are then often valid."""
CONVERTS = st.fixed_dictionaries({"to": NAMES}, optional={"format": NAMES, "zone": SCALARS})
MODIFIERS = {
    **dict.fromkeys(["split", "join", "table"], NAMES),
    "reverse": st.booleans() | SCALARS,
    "truncate": SCALARS,
    "convert": NAMES | CONVERTS,
    "default": LEAVES,
}
CONDITIONS = st.recursive(
    st.fixed_dictionaries(
        {"field": NAMES},
        optional={"equals": SCALARS, "in": LEAVES, "present": st.booleans() | SCALARS},
    ),
    lambda inner: st.fixed_dictionaries(
        {}, optional={"all": st.lists(inner, max_size=2), "any": st.lists(inner, max_size=2)}
    ),
    max_leaves=4,
)


def _operations(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Entries of each kind, each option present or not, any value of any type (so that
    both valid and broken entries come up), a misspelt key now and then."""
    rule = st.fixed_dictionaries({"if": CONDITIONS, "then": inner}, optional={"fi": SCALARS})
    return (
        st.fixed_dictionaries({"from": NAMES}, optional={**MODIFIERS, "tabel": SCALARS})
        | st.fixed_dictionaries({"template": NAMES}, optional=MODIFIERS)
        | st.fixed_dictionaries({"const": LEAVES}, optional={"form": SCALARS})
        | st.fixed_dictionaries({"when": st.lists(rule, max_size=2)}, optional={"else": inner})
        | st.fixed_dictionaries({}, optional={"tempalte": SCALARS, "default": LEAVES})
    )


ENTRIES = st.recursive(NAMES | LEAVES, _operations, max_leaves=6)


@settings(max_examples=200)
@given(entry=ENTRIES)
def test_the_schema_accepts_an_entry_exactly_when_the_engine_does(
    validator: Draft202012Validator, entry: Any
) -> None:
    """The engine in strict mode: the schema asks for true booleans, not `reverse: 1`."""
    try:
        OPERATION.validate_python(entry, strict=True)
        engine_accepts = True
    except ValidationError:
        engine_accepts = False
    document = parsed(MAPPING)
    document["requests"]["create"]["x"] = entry
    assert (schema_errors(validator, document) == []) == engine_accepts
