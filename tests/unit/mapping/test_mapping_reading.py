"""Backend records read into Open311 requests and updates, status tables both ways."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.mapping import MappingError
from gateway.open311.models import NewRequestUpdate, RequestStatus, UpdateStatus

from mappingfiles import CONTEXT, NOW, READ, RECORD, TABLES, UPDATES, compiled, document

STATUS_TABLES = (
    TABLES
    + """\
  update_status:
    values: {NEW: open, WORK: in_progress, PLAN: action_scheduled, DONE: fixed, VOID: duplicate}
  citizen:
    values:
      OPEN: NEW
      CLOSED: DONE
      FIXED: DONE
      IN_PROGRESS: WORK
      ACTION_SCHEDULED: PLAN
      DUPLICATE: VOID
"""
)


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


def test_values_are_made_to_fit_open311_fields(tmp_path: Path) -> None:
    read = READ + "    updated_datetime: changed\n    expected_datetime: due\n    lat: y\n"
    mapping = compiled(tmp_path, document(read=read))
    naive = datetime(2026, 5, 1, 12, 0)
    plus_two = "2026-05-01T14:00:00+02:00"
    found = mapping.service_request({**RECORD, "changed": naive, "due": plus_two, "y": "51.5"})
    assert found.updated_datetime == NOW and found.updated_datetime.tzinfo is UTC
    assert found.expected_datetime == NOW and found.expected_datetime.tzinfo is UTC
    assert found.lat == 51.5


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {**RECORD, "category": "parks"},
            "service_code: category: 'parks' is not in table 'category', which has no fallback",
        ),
        (
            {k: v for k, v in RECORD.items() if k != "id"},
            "the backend record is not an Open311 request: service_request_id: Field required",
        ),
        ({**RECORD, "id": {"nested": 1}}, "service_request_id: a dict is not text"),
        ({**RECORD, "id": True}, "service_request_id: a bool is not text"),
        (
            {**RECORD, "created": "yesterday, said Ann"},
            "requested_datetime: text that is not a date-time in ISO 8601",
        ),
        ({**RECORD, "created": 5}, "requested_datetime: a int is not a date-time"),
        (
            {**RECORD, "state": ["NEW"]},
            "the backend record is not an Open311 request: status: Input should be "
            "'open' or 'closed'",
        ),
    ],
)
def test_records_that_cannot_be_mapped(tmp_path: Path, record: dict, message: str) -> None:
    mapping = compiled(tmp_path, document())
    with pytest.raises(MappingError) as caught:
        mapping.service_request(record)
    assert str(caught.value) == message


def test_an_unknown_backend_status_takes_the_fallback(tmp_path: Path) -> None:
    mapping = compiled(tmp_path, document())
    assert mapping.service_request({**RECORD, "state": "LOST"}).status is RequestStatus.OPEN
    assert mapping.service_request({**RECORD, "state": "DONE"}).status is RequestStatus.CLOSED


def test_a_default_stands_in_for_the_status_fallback(tmp_path: Path) -> None:
    tables = STATUS_TABLES.replace("    fallback: open\n", "", 1)
    read = READ.replace(
        "{from: state, table: status}", "{from: state, table: status, default: closed}"
    )
    mapping = compiled(tmp_path, document(read=read, tables=tables))
    assert mapping.service_request({**RECORD, "state": "LOST"}).status is RequestStatus.CLOSED
    assert mapping.service_request({**RECORD, "state": "WORK"}).status is RequestStatus.OPEN


def test_reverse_table_reads_a_code_back(tmp_path: Path) -> None:
    mapping = compiled(tmp_path, document())
    assert mapping.service_request({**RECORD, "category": "streets"}).service_code == "DOG"


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


EXTENDED = UPDATES.replace(
    "    state: {from: status, table: mood}\n", "    state: {from: status, table: citizen}\n"
).replace(
    "    status: {from: state, default: open}\n",
    "    status: {from: state, table: update_status, default: investigating}\n"
    "    external_status_code: state\n",
)


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("NEW", UpdateStatus.OPEN),
        ("WORK", UpdateStatus.IN_PROGRESS),
        ("PLAN", UpdateStatus.ACTION_SCHEDULED),
        ("DONE", UpdateStatus.FIXED),
        ("VOID", UpdateStatus.DUPLICATE),
        ("TRIAGE", UpdateStatus.INVESTIGATING),  # not in the table: the entry's default
    ],
)
def test_extended_update_statuses_and_the_backend_code(
    tmp_path: Path, state: str, status: UpdateStatus
) -> None:
    mapping = compiled(tmp_path, document(tables=STATUS_TABLES, updates=EXTENDED))
    update = mapping.request_update({"id": 1, "ticket_id": 2, "state": state, "at": NOW})
    assert (update.status, update.external_status_code) == (status, state)


@pytest.mark.parametrize(
    ("citizen", "state"),
    [
        (UpdateStatus.FIXED, "DONE"),
        (UpdateStatus.IN_PROGRESS, "WORK"),
        (UpdateStatus.ACTION_SCHEDULED, "PLAN"),
        (UpdateStatus.DUPLICATE, "VOID"),
    ],
)
def test_status_tables_both_ways(tmp_path: Path, citizen: UpdateStatus, state: str) -> None:
    """A citizen's status is written as the backend's code, which reads back the same."""
    mapping = compiled(tmp_path, document(tables=STATUS_TABLES, updates=EXTENDED))
    update = NewRequestUpdate(
        service_request_id="2",
        update_id="u",
        status=citizen,
        updated_datetime=NOW,
        description="",
    )
    payload = mapping.update_payload(update, CONTEXT)
    assert payload["state"] == state
    stored: dict[str, Any] = {**payload, "id": 9, "at": NOW}
    assert mapping.request_update(stored).status is citizen


def test_a_citizen_status_missing_from_a_table_without_fallback(tmp_path: Path) -> None:
    mapping = compiled(tmp_path, document(tables=STATUS_TABLES, updates=EXTENDED))
    update = NewRequestUpdate(
        service_request_id="2",
        update_id="u",
        status=UpdateStatus.REOPEN,
        updated_datetime=NOW,
        description="",
    )
    with pytest.raises(MappingError) as caught:
        mapping.update_payload(update, CONTEXT)
    assert str(caught.value) == (
        "state: status: 'REOPEN' is not in table 'citizen', which has no fallback"
    )


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


def test_which_update_sections_a_mapping_has(tmp_path: Path) -> None:
    both = compiled(tmp_path, document())
    assert (both.writes_updates, both.reads_updates) == (True, True)
    without_create = UPDATES[: UPDATES.index("  create:")] + UPDATES[UPDATES.index("  read:") :]
    read_only = compiled(tmp_path, document(updates=without_create))
    assert (read_only.writes_updates, read_only.reads_updates) == (False, True)
    neither = compiled(tmp_path, document(updates=""))
    assert (neither.writes_updates, neither.reads_updates) == (False, False)


def test_the_id_of_a_created_record(tmp_path: Path) -> None:
    mapping = compiled(tmp_path, document())
    assert mapping.service_request_id({"id": 31}) == "31"
    with pytest.raises(MappingError) as caught:
        mapping.service_request_id({"state": "NEW"})
    assert str(caught.value) == "the backend record has no value for service_request_id"
