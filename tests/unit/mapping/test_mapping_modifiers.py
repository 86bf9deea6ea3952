"""The modifiers of `from` and `template` (split, join, table, truncate, default) and
the fixed order they are applied in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.mapping import MappingError

from mappingfiles import CONTEXT, TABLES, compiled, created, document, read_back, request

CODES = (
    TABLES
    + """\
  kinds:
    values: {a: ALPHA, b: BETA, '1': ONE, '2': TWO, gone: null}
  lengths:
    values: {'5': five, '12': twelve}
"""
)


def written(tmp_path: Path, entry: str, **fields: Any) -> Any:
    """The value of the target `out` written with `entry` from a request with `fields`."""
    mapping = compiled(tmp_path, document(create=f"    out: {entry}\n", tables=CODES))
    return mapping.create_payload(request(**fields), CONTEXT).get("out")


# --- default ---------------------------------------------------------------------------


def test_default_only_when_the_source_has_no_value(tmp_path: Path) -> None:
    entries = "    summary: {from: description, default: '(none)'}\n"
    assert created(tmp_path, entries) == {"summary": "(none)"}
    assert created(tmp_path, entries, request(description="text")) == {"summary": "text"}
    assert created(tmp_path, entries, request(description="")) == {"summary": ""}


def test_default_is_not_translated(tmp_path: Path) -> None:
    entries = "    c: {from: attributes.kind, table: category, default: other}\n"
    assert created(tmp_path, entries) == {"c": "other"}


def test_default_when_a_table_gives_null(tmp_path: Path) -> None:
    entry = "{from: attributes.kind, table: kinds, default: none}"
    assert written(tmp_path, entry, attributes={"kind": "gone"}) == "none"
    assert (
        written(tmp_path, "{from: attributes.kind, table: kinds}", attributes={"kind": "gone"})
        is None
    )


# --- tables ------------------------------------------------------------------------------


def test_table_translates_forward(tmp_path: Path) -> None:
    entries = "    category: {from: service_code, table: category}\n"
    assert created(tmp_path, entries) == {"category": "roads"}
    assert created(tmp_path, entries, request(service_code="DOG")) == {"category": "streets"}


def test_table_keys_are_text_and_numbers_find_them(tmp_path: Path) -> None:
    entry = "    description: {from: n, table: lengths}\n"
    found = read_back(tmp_path, entry, {"n": 12}, tables=CODES)
    assert found["description"] == "twelve"


def test_table_translates_each_item_of_a_list(tmp_path: Path) -> None:
    entry = "{from: attributes.kinds, table: kinds}"
    assert written(tmp_path, entry, attributes={"kinds": ("b", "gone", "a")}) == ["BETA", "ALPHA"]
    assert written(tmp_path, entry, attributes={"kinds": ("gone",)}) is None


def test_a_value_not_in_a_table_without_fallback(tmp_path: Path) -> None:
    mapping = compiled(
        tmp_path, document(create="    out: {from: attributes.kind, table: kinds}\n", tables=CODES)
    )
    with pytest.raises(MappingError) as caught:
        mapping.create_payload(request(attributes={"kind": "c"}), CONTEXT)
    assert str(caught.value) == (
        "out: attributes.kind: 'c' is not in table 'kinds', which has no fallback"
    )


def test_a_default_stands_in_for_a_missing_fallback(tmp_path: Path) -> None:
    entry = "{from: attributes.kind, table: kinds, default: OTHER}"
    assert written(tmp_path, entry, attributes={"kind": "c"}) == "OTHER"
    assert written(tmp_path, entry, attributes={"kind": "a"}) == "ALPHA"


def test_values_that_cannot_be_table_keys(tmp_path: Path) -> None:
    mapping = compiled(tmp_path, document())
    record = {"id": 1, "state": "NEW", "category": {"code": "roads"}, "created": "2026-05-01"}
    with pytest.raises(MappingError) as caught:
        mapping.service_request(record)
    assert str(caught.value) == (
        "service_code: category: a dict is not in table 'category', which has no fallback"
    )


# --- split, join, truncate -----------------------------------------------------------


def test_split_makes_a_list_of_stripped_parts(tmp_path: Path) -> None:
    entry = "{from: attributes.tags, split: ','}"
    assert written(tmp_path, entry, attributes={"tags": " a, b ,,c ,"}) == ["a", "b", "c"]
    assert written(tmp_path, entry, attributes={"tags": " , "}) is None
    with_default = "{from: attributes.tags, split: ',', default: [none]}"
    assert written(tmp_path, with_default, attributes={"tags": ","}) == ["none"]


def test_split_needs_text(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as caught:
        written(tmp_path, "{from: attributes.tags, split: ','}", attributes={"tags": ("a",)})
    assert str(caught.value) == "out: split needs text, not a list"


def test_join_makes_text_of_a_list(tmp_path: Path) -> None:
    entry = "{from: attributes.kinds, join: '; '}"
    assert written(tmp_path, entry, attributes={"kinds": ("a", "b")}) == "a; b"
    assert written(tmp_path, entry, attributes={"kinds": "single"}) == "single"
    numbers = read_back(tmp_path, "    description: {from: n, join: '+'}\n", {"n": [1, None, 2.5]})
    assert numbers["description"] == "1+2.5"
    empty = read_back(tmp_path, "    description: {from: n, join: '+', default: '-'}\n", {"n": []})
    assert empty["description"] == "-"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": 1}, "description: join needs a list, not a dict"),
        ([{"a": 1}], "description: join needs items of text or numbers, not a dict"),
        ([True], "description: join needs items of text or numbers, not a bool"),
    ],
)
def test_join_refuses(tmp_path: Path, value: Any, message: str) -> None:
    with pytest.raises(MappingError) as caught:
        read_back(tmp_path, "    description: {from: n, join: ','}\n", {"n": value})
    assert str(caught.value) == message


def test_truncate_cuts_text(tmp_path: Path) -> None:
    entry = "{from: description, truncate: 5}"
    assert written(tmp_path, entry, description="A deep hole") == "A dee"
    assert written(tmp_path, entry, description="Hole") == "Hole"
    assert written(tmp_path, "{from: lat, truncate: 2}") == 51.5  # not text: left as it is
    assert written(
        tmp_path, "{from: attributes.k, truncate: 2}", attributes={"k": ("abc", "d")}
    ) == ["ab", "d"]


# --- the fixed order -------------------------------------------------------------------

ORDERED = [
    # split, then convert each part, then the table, then truncate
    (
        "{from: attributes.x, split: ',', convert: int, table: kinds, truncate: 2}",
        "1, 2",
        ["ON", "TW"],
    ),
    # the same, written backwards: the order is the language's, not the file's
    (
        "{truncate: 2, table: kinds, convert: int, split: ',', from: attributes.x}",
        "1, 2",
        ["ON", "TW"],
    ),
    # join, then convert the text
    ("{from: attributes.x, join: '', convert: int}", ("1", "2"), 12),
    # convert, then the table: the number finds its key as text
    ("{from: attributes.x, convert: int, table: lengths}", "05", "five"),
    # the table, then truncate
    ("{from: attributes.x, table: kinds, truncate: 3}", "a", "ALP"),
    # truncate, then default: a default is neither cut nor translated
    ("{from: attributes.y, table: kinds, truncate: 1, default: LONG}", "a", "LONG"),
    # split, then the table on each part
    ("{from: attributes.x, split: ' ', table: kinds}", "a b gone", ["ALPHA", "BETA"]),
    # convert to text, then truncate
    ("{from: attributes.x, convert: str, truncate: 2}", "abc", "ab"),
    # join, then the table on the joined text
    ("{from: attributes.x, join: '', table: kinds}", ("1",), "ONE"),
]


@pytest.mark.parametrize(("entry", "value", "expected"), ORDERED)
def test_modifiers_apply_in_a_fixed_order(
    tmp_path: Path, entry: str, value: Any, expected: Any
) -> None:
    assert written(tmp_path, entry, attributes={"x": value}) == expected
