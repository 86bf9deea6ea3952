"""Small mapping files for the mapping engine's tests, and helpers to load them.

`document()` assembles a complete, valid mapping from parts a test replaces; errors
are compared with their exact `file:line:col` through `at()`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.mapping import CompiledMapping, MappingContext, load_mapping
from gateway.open311.models import Location, NewServiceRequest
from gateway.yamlfile import FileErrors

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
    fallback: open
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
LIST_ATTRIBUTE_SERVICES = """\
services:
  - service_code: POT
    service_name: Pothole
    metadata: true
    attributes:
      - {code: depth, datatype: number, order: 1, description: Depth}
      - code: position
        datatype: singlevaluelist
        order: 2
        description: Where
        values: [{key: road, name: Road}, {key: junction, name: Junction}]
  - service_code: FLY
    service_name: Fly-tipping
    metadata: true
    attributes:
      - code: waste
        datatype: multivaluelist
        order: 1
        description: What
        values: [{key: tyres, name: Tyres}, {key: needles, name: Needles}]
  - {service_code: DOG, service_name: Dog fouling, metadata: false}
"""
"""A catalogue whose attributes include a single- and a multivaluelist."""
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
RECORD: dict[str, Any] = {"id": 12, "state": "NEW", "category": "roads", "created": NOW}


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
    """The backend record that `entries` (lines of `requests.create`) make of `new`."""
    mapping = compiled(tmp_path, document(create=entries))
    return mapping.create_payload(new or request(), CONTEXT)


def read_back(
    tmp_path: Path, entries: str, record: dict[str, Any], *, tables: str = TABLES
) -> dict[str, Any]:
    """What `entries` (lines added to `requests.read`) read from `record` (with RECORD)."""
    mapping = compiled(tmp_path, document(read=READ + entries, tables=tables))
    found = mapping.service_request({**RECORD, **record})
    return found.model_dump(exclude_none=True)
