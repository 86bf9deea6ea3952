"""The SQL connector's services table on a SQLite file, and a catalogue taken from it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import Capability, UnsupportedError
from connectors.sql import SqlConnector
from gateway.catalogue import CatalogueHolder
from gateway.catalogue_refresh import CatalogueRefresher
from gateway.mapping import CompiledMapping, load_mapping
from mappings import mapping_path

SERVICES_TABLE = {
    "table": "service_types",
    "id": "type_code",
    "columns": {
        "type_code": "text",
        "label": "text",
        "help_text": "text",
        "section": "text",
        "batch": "integer",
    },
}
CATALOGUE = """\
services:
  from_backend:
    refresh: 60
    read:
      service_code: type_code
      service_name: label
      description: {from: help_text, default: ''}
      group: section
      type: {from: batch, table: service_type, default: realtime}
  overrides:
    RD-POT:
      service_name: Pothole
      add_keywords: [road]
      attributes:
        - {code: depth, datatype: number, required: true, order: 1, description: How deep?}
    WST-OLD:
      hide: true
"""
TYPE_TABLE = """\
  service_type:
    values: {'0': realtime, '1': batch}
"""
ROWS = [
    ("WST-BULK", "Bulky waste", "Large items", "Waste", 1),
    ("RD-POT", "Road defect", None, "Roads", 0),
    ("WST-OLD", "Old waste service", "Retired", "Waste", 0),
]


@pytest.fixture(scope="module")
def tickets_only() -> dict[str, Any]:
    """The embedded mapping's legacy schema, which describes no services table."""
    return load_mapping(mapping_path("embedded.yaml")).backend


@pytest.fixture(scope="module")
def backend(tickets_only: dict[str, Any]) -> dict[str, Any]:
    return {**tickets_only, "services": SERVICES_TABLE}


def database(tmp_path: Path) -> Path:
    return tmp_path / "tickets.db"


def new_connector(tmp_path: Path, backend: dict[str, Any]) -> SqlConnector:
    settings = {"url": f"sqlite+aiosqlite:///{database(tmp_path)}", "create_schema": True}
    return SqlConnector(settings, backend, timeout=5)


@pytest.fixture
async def connector(tmp_path: Path, backend: dict[str, Any]) -> AsyncIterator[SqlConnector]:
    connector = new_connector(tmp_path, backend)
    await connector.start()
    yield connector
    await connector.close()


def insert(tmp_path: Path, rows: list[tuple[object, ...]]) -> None:
    with sqlite3.connect(database(tmp_path)) as raw:
        raw.executemany("INSERT INTO service_types VALUES (?, ?, ?, ?, ?)", rows)


def test_list_services_is_offered_only_with_a_services_table(
    tmp_path: Path, tickets_only: dict[str, Any], backend: dict[str, Any]
) -> None:
    assert SqlConnector.capabilities_for(backend) == (
        SqlConnector.capabilities | {Capability.LIST_SERVICES}
    )
    assert SqlConnector.capabilities_for(tickets_only) == SqlConnector.capabilities
    assert new_connector(tmp_path, backend).supports(Capability.LIST_SERVICES)
    assert not new_connector(tmp_path, tickets_only).supports(Capability.LIST_SERVICES)


async def test_without_a_services_table_list_services_is_unsupported(
    tmp_path: Path, tickets_only: dict[str, Any]
) -> None:
    connector = new_connector(tmp_path, tickets_only)
    await connector.start()
    try:
        with pytest.raises(UnsupportedError, match="describes no services table"):
            await connector.list_services()
    finally:
        await connector.close()


async def test_list_services_reads_every_row_in_key_order(
    connector: SqlConnector, tmp_path: Path
) -> None:
    assert await connector.list_services() == []
    insert(tmp_path, ROWS)
    rows = await connector.list_services()
    assert [row["type_code"] for row in rows] == ["RD-POT", "WST-BULK", "WST-OLD"]
    assert rows[0] == {
        "type_code": "RD-POT",
        "label": "Road defect",
        "help_text": None,
        "section": "Roads",
        "batch": 0,
    }


def test_the_services_table_is_checked(tmp_path: Path, backend: dict[str, Any]) -> None:
    unknown_id = {**backend, "services": {**SERVICES_TABLE, "id": "code"}}
    with pytest.raises(ValidationError, match="id 'code' is not one of the columns"):
        new_connector(tmp_path, unknown_id)
    shared = {**backend, "services": {**SERVICES_TABLE, "table": "tickets"}}
    with pytest.raises(ValidationError, match="services need a table of their own"):
        new_connector(tmp_path, shared)


def backend_mapping(tmp_path: Path) -> CompiledMapping:
    """The embedded mapping with its catalogue taken from the services table."""
    text = mapping_path("embedded.yaml").read_text(encoding="utf-8")
    services_table = f"  services: {json.dumps(SERVICES_TABLE)}\n"
    text = text.replace("\ntables:\n", f"\n{services_table}\ntables:\n{TYPE_TABLE}", 1)
    start, end = text.index("\nservices:\n"), text.index("\nrequests:\n")
    path = tmp_path / "city.yaml"
    path.write_text(f"{text[: start + 1]}{CATALOGUE}{text[end:]}", encoding="utf-8")
    return load_mapping(path)


async def test_a_catalogue_taken_from_the_services_table(
    connector: SqlConnector, tmp_path: Path
) -> None:
    source = backend_mapping(tmp_path).backend_catalogue
    assert source is not None
    holder = CatalogueHolder()
    refresher = CatalogueRefresher("city", source, connector, holder, interval=60)
    insert(tmp_path, ROWS)
    assert await refresher.refresh() is None
    pot, bulky = holder.current().services
    assert (pot.service_code, pot.service_name, pot.keywords) == ("RD-POT", "Pothole", ("road",))
    assert (pot.description, pot.group, pot.metadata, pot.type) == ("", "Roads", True, "realtime")
    assert (bulky.service_name, bulky.type, bulky.metadata) == ("Bulky waste", "batch", False)
    assert [a.code for a in holder.current().definition("RD-POT").attributes] == ["depth"]

    insert(tmp_path, [("ENV-GRAF", "Graffiti", None, "Streets", 0)])
    assert await refresher.refresh() is None
    codes = [service.service_code for service in holder.current().services]
    assert codes == ["ENV-GRAF", "RD-POT", "WST-BULK"]

    good = holder.current()
    with sqlite3.connect(database(tmp_path)) as raw:
        raw.execute("DROP TABLE service_types")
    problem = await refresher.refresh()
    assert problem is not None
    assert problem.startswith("the backend failed to list its services: the database failed: ")
    assert "no such table" in problem
    assert holder.current() is good
