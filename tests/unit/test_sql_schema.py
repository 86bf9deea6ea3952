"""The SQL connector's backend section: what a legacy schema may declare, and the
mistakes a mapping is refused for on load, each named by its key."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.schema import CreateTable

from connectors.sql.schema import SqlSchema
from connectors.sql.tables import build_tables
from gateway.mapping import load_mapping
from gateway.yamlfile import FileErrors

from legacy import LEGACY_MAPPING, legacy_mapping


@pytest.fixture(scope="module")
def backend() -> dict[str, Any]:
    return legacy_mapping().backend


def changed(backend: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """The backend section with the value at a dotted path replaced."""
    section = copy.deepcopy(backend)
    *parents, last = path.split(".")
    node = section
    for key in parents:
        node = node[key]
    node[last] = value
    return section


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("lookups.category.ticket_column", "cat", "lookups.category.ticket_column 'cat' is not"),
        ("lookups.category.id", "code", "id 'code' is not one of the columns"),
        (
            "lookups.category.columns.cat_cd",
            "text",
            "lookups.category: tickets column 'cat_cd' is smallint, but its id 'cat_cd' is text",
        ),
        ("lookups.category.table", "tkt_main", "lookups.category needs a table of its own"),
        ("contact.table", "tkt_history", "contact needs a table of its own"),
        ("contact.ticket", "ticket_id", "ticket 'ticket_id' is not one of the columns"),
        ("tickets.sequence", "", "at least 1 character"),
        ("lookups.category.rows", [{"cat_cd": 1, "colour": "red"}], "rows.0 names colour"),
        (
            "lookups.history",
            {"table": "x", "id": "a", "ticket_column": "cat_cd", "columns": {"a": "smallint"}},
            "records use 'history'",
        ),
    ],
)
def test_mistakes_are_named_by_their_key(
    backend: dict[str, Any], path: str, value: Any, message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        SqlSchema.model_validate(changed(backend, path, value))


def test_a_lookup_name_is_a_record_key(backend: dict[str, Any]) -> None:
    dotted = changed(backend, "lookups", {"cat.egory": backend["lookups"]["category"]})
    with pytest.raises(ValidationError, match="a lookup's name is a key of ticket records"):
        SqlSchema.model_validate(dotted)


def test_a_sequence_needs_an_integer_id(backend: dict[str, Any]) -> None:
    broken = changed(backend, "tickets.columns.tkt_id", "text")
    with pytest.raises(
        ValidationError, match="a sequence generates integers, but id 'tkt_id' is text"
    ):
        SqlSchema.model_validate(broken)


def test_records_keys_are_not_column_names(backend: dict[str, Any]) -> None:
    for key in ("contact", "category"):
        broken = changed(backend, f"tickets.columns.{key}", "text")
        with pytest.raises(ValidationError, match=f"a column may not be named '{key}'"):
            SqlSchema.model_validate(broken)


def test_without_a_contact_table_contact_may_be_a_column(backend: dict[str, Any]) -> None:
    simple = {key: value for key, value in backend.items() if key != "contact"}
    SqlSchema.model_validate(changed(simple, "tickets.columns.contact", "text"))


def test_a_mapping_with_a_mistake_says_where(tmp_path: Path) -> None:
    text = LEGACY_MAPPING.read_text(encoding="utf-8").replace(
        "      ticket_column: cat_cd", "      ticket_column: category_code", 1
    )
    path = tmp_path / "city.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FileErrors) as caught:
        load_mapping(path)
    [message] = caught.value.messages
    assert message.startswith(f"{path}:")
    assert "lookups.category.ticket_column 'category_code' is not one of the tickets' columns" in (
        message
    )


def test_tables_as_each_server_creates_them(backend: dict[str, Any]) -> None:
    tables = build_tables(SqlSchema.model_validate(backend))
    on_mariadb = str(CreateTable(tables.tickets).compile(dialect=mysql.dialect(is_mariadb=True)))
    assert "ext_ref VARCHAR(255)" in on_mariadb and "UNIQUE (ext_ref)" in on_mariadb
    assert "opened_dt DATETIME(6)" in on_mariadb and "y_coord DOUBLE" in on_mariadb
    assert "stat_cd SMALLINT" in on_mariadb and "attr_json TEXT" in on_mariadb
    assert "FOREIGN KEY(cat_cd) REFERENCES tkt_category (cat_cd)" in on_mariadb
    on_postgres = str(CreateTable(tables.contact).compile(dialect=postgresql.dialect()))
    assert (
        "opened_dt" not in on_postgres and "FOREIGN KEY(tkt_id) REFERENCES tkt_main" in on_postgres
    )
    assert "first_nm TEXT" in on_postgres
    created = str(CreateTable(tables.tickets).compile(dialect=postgresql.dialect()))
    assert "opened_dt TIMESTAMP WITH TIME ZONE" in created and "ext_ref TEXT" in created
    assert tables.tickets.c.tkt_id.default.name == "tkt_main_seq"
