"""`open311-gateway mapping check | apply | schema`, and a broken mapping stopping `serve`."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.registry import ConnectorNotFound
from gateway.cli import main
from gateway.mapping.schema import SHIPPED_NAME, installed_connectors, mapping_schema
from mappings import mapping_path

from mappingfiles import BACKEND, write

EMBEDDED = mapping_path("embedded.yaml")
NOW = "2026-05-01T12:00:00Z"

POTHOLE = {
    "service_code": "POT",
    "lat": 51.5072,
    "long": -0.1276,
    "description": "Deep hole by the bus stop",
    "attribute[depth]": 12,
    "attribute[position]": "carriageway",
}

TICKET = {
    "ticket_no": 7,
    "category": "RD-POT",
    "dept": "HIGHWAYS",
    "state": "TRIAGED",
    "summary": "Deep hole by the bus stop",
    "latitude": 51.5072,
    "longitude": -0.1276,
    "created_at": "2026-05-01 12:00:00",
}

CONTEXT_MAPPING = (
    BACKEND
    + """\
tables:
  kinds:
    values: {road: RD}
services:
  - service_code: POT
    service_name: Pothole
    metadata: true
    attributes:
      - {code: kind, datatype: string, order: 1, description: What kind?}
requests:
  create:
    ref: context.idempotency_key
    city: context.jurisdiction_id
    created: context.now
    kind: {from: attributes.kind, table: kinds}
  read:
    service_request_id: id
    status: {from: state, default: open}
    service_code: {from: kind, table: kinds, reverse: true}
    requested_datetime: created
"""
)

BROKEN = """\
connector: sql
requests: {create: {}, read: {}}
servicez: []
tables: {t: {fallback: 1}}
"""


def write_json(folder: Path, name: str, value: Any) -> Path:
    path = folder / name
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["mapping", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


# --- check ----------------------------------------------------------------------------


def test_check_says_ok_for_each_good_file(tmp_path: Path, capsys) -> None:
    copy = tmp_path / "copy.yaml"
    shutil.copy(EMBEDDED, copy)
    assert run(capsys, "check", str(EMBEDDED), str(copy)) == (
        0,
        f"{EMBEDDED}: ok\n{copy}: ok\n",
        "",
    )


def test_check_lists_every_problem_of_every_broken_file(tmp_path: Path, capsys) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        EMBEDDED.read_text(encoding="utf-8")
        .replace("state: {const: NEW}", "state: {form: NEW}")
        .replace("order: 1", "order: 0", 1),
        encoding="utf-8",
    )
    missing = tmp_path / "missing.yaml"
    status, out, err = run(capsys, "check", str(typo), str(EMBEDDED), str(missing))
    assert status == 1
    assert out == f"{EMBEDDED}: ok\n"
    assert f"{typo}:" in err and ": requests.create.state: " in err
    assert ": services.0.attributes.0.order: Input should be greater than 0" in err
    assert f"{missing}: cannot read: No such file or directory" in err


# --- apply --request ------------------------------------------------------------------


def test_apply_request_prints_the_backend_payload(tmp_path: Path, capsys) -> None:
    request = write_json(tmp_path, "req.json", POTHOLE)
    status, out, err = run(capsys, "apply", str(EMBEDDED), "--request", str(request), "--now", NOW)
    assert (status, err) == (0, "")
    assert out.startswith('{\n  "category": "RD-POT",\n')
    assert json.loads(out) == {
        "category": "RD-POT",
        "dept": "HIGHWAYS",
        "state": "NEW",
        "priority": "NORMAL",
        "summary": "Deep hole by the bus stop",
        "latitude": 51.5072,
        "longitude": -0.1276,
        "details": {"depth": "12", "position": "carriageway"},
        "channel": "OPEN311",
        "created_at": "2026-05-01T12:00:00+00:00",
        "updated_at": "2026-05-01T12:00:00+00:00",
        "history": {"state": "NEW", "note": "Reported through Open311", "source": "open311"},
    }


def test_apply_request_reads_lists_and_both_attribute_dialects(tmp_path: Path, capsys) -> None:
    """A JSON array repeats its key, as a form would: `[]` or not, media_url too."""
    body = {
        "service_code": "BULKY",
        "address_string": "1 High Street",
        "attribute[items][]": ["sofa", "mattress"],
        "media_url": ["http://img/1.jpg", "http://img/2.jpg"],
        "email": None,
    }
    request = write_json(tmp_path, "req.json", body)
    status, out, _ = run(capsys, "apply", str(EMBEDDED), "--request", str(request), "--now", NOW)
    payload = json.loads(out)
    assert status == 0
    assert payload["details"] == {"items": ["sofa", "mattress"]}
    assert payload["photo_url"] == "http://img/1.jpg"
    assert "reporter_email" not in payload


def test_apply_request_fills_the_context(tmp_path: Path, capsys) -> None:
    mapping = write(tmp_path, CONTEXT_MAPPING)
    body = {"service_code": "POT", "lat": 1, "long": 2, "attribute[kind]": "road"}
    request = write_json(tmp_path, "req.json", body)
    argv = ["apply", str(mapping), "--request", str(request)]
    _, out, _ = run(capsys, *argv, "--jurisdiction", "example.city", "--idempotency-key", "k-1")
    assert json.loads(out)["ref"] == "k-1" and json.loads(out)["city"] == "example.city"
    before = datetime.now(UTC)
    status, out, _ = run(capsys, *argv)
    payload = json.loads(out)
    assert status == 0
    assert payload["ref"] == "dry-run" and payload["city"] == "dry-run"
    assert datetime.fromisoformat(payload["created"]) - before < timedelta(minutes=1)


def test_apply_request_lists_every_problem_as_the_edge_does(tmp_path: Path, capsys) -> None:
    body = {**POTHOLE, "lat": 91, "attribute[position]": "sky"}
    del body["attribute[depth]"]
    request = write_json(tmp_path, "req.json", body)
    status, out, err = run(capsys, "apply", str(EMBEDDED), "--request", str(request))
    assert (status, out) == (1, "")
    assert err.splitlines() == [
        f"{request}: lat: must be a number between -90 and 90",
        f"{request}: attribute[depth]: required",
        f"{request}: attribute[position]: 'sky' is not one of carriageway, cycle_lane, junction",
    ]


def test_apply_request_refuses_a_service_the_mapping_does_not_list(tmp_path: Path, capsys) -> None:
    request = write_json(tmp_path, "req.json", {**POTHOLE, "service_code": "NOPE"})
    status, _, err = run(capsys, "apply", str(EMBEDDED), "--request", str(request))
    assert (status, err) == (1, f"{request}: service_code: no service 'NOPE'\n")


def test_apply_request_reports_a_value_the_mapping_cannot_translate(tmp_path: Path, capsys) -> None:
    mapping = write(tmp_path, CONTEXT_MAPPING)
    body = {"service_code": "POT", "lat": 1, "long": 2, "attribute[kind]": "rail"}
    request = write_json(tmp_path, "req.json", body)
    status, _, err = run(capsys, "apply", str(mapping), "--request", str(request))
    assert status == 1
    assert err == (
        f"{mapping}: the request cannot be mapped for the backend: "
        "kind: attributes.kind: 'rail' is not in table 'kinds', which has no fallback\n"
    )


def test_apply_request_prints_dates_written_in_the_mapping(tmp_path: Path, capsys) -> None:
    create = "  create:\n"
    mapping = write(
        tmp_path, CONTEXT_MAPPING.replace(create, f"{create}    due: {{const: 2026-06-01}}\n")
    )
    body = {"service_code": "POT", "lat": 1, "long": 2}
    request = write_json(tmp_path, "req.json", body)
    _, out, _ = run(capsys, "apply", str(mapping), "--request", str(request), "--now", NOW)
    assert json.loads(out)["due"] == "2026-06-01"
    write(
        tmp_path, CONTEXT_MAPPING.replace(create, f"{create}    blob: {{const: !!binary aGk=}}\n")
    )
    status, out, err = run(capsys, "apply", str(mapping), "--request", str(request))
    assert (status, out) == (1, "")
    assert err == (
        f"{mapping}: the payload has no JSON form: "
        "a bytes is neither text, a number nor a date-time\n"
    )


def test_apply_request_shows_what_every_operation_makes(tmp_path: Path, capsys) -> None:
    create = "  create:\n"
    entries = """\
    title: {template: "{service_code} at {address_string}", truncate: 12}
    lat: {from: lat, convert: decimal}
    local:
      from: context.now
      convert: {to: datetime, format: "%d/%m/%Y %H:%M", timezone: Europe/London}
    urgent:
      when:
        - if: {field: attributes.kind, in: [road, rail]}
          then: {const: true}
      else: {const: false}
    words: {from: description, split: ","}
    items.0.text: {from: description, truncate: 4}
"""
    mapping = write(tmp_path, CONTEXT_MAPPING.replace(create, create + entries))
    body = {
        "service_code": "POT",
        "address_string": "1 High St",
        "lat": 51.25,
        "long": 2,
        "description": "deep, wide",
        "attribute[kind]": "road",
    }
    request = write_json(tmp_path, "req.json", body)
    status, out, err = run(capsys, "apply", str(mapping), "--request", str(request), "--now", NOW)
    assert (status, err) == (0, "")
    payload = json.loads(out)
    assert payload["title"] == "POT at 1 Hig"
    assert payload["lat"] == 51.25
    assert payload["local"] == "01/05/2026 13:00"
    assert payload["urgent"] is True
    assert payload["words"] == ["deep", "wide"]
    assert payload["items"] == [{"text": "deep"}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"service_code": ', ":1:18: invalid JSON: Expecting value"),
        ('["POT"]', ": expected a JSON object"),
        ('{"service_code": "POT", "lat": {"deg": 51}}', ": lat: expected text, a number, or a"),
    ],
    ids=["not JSON", "not an object", "nested value"],
)
def test_apply_request_refuses_a_malformed_file(
    tmp_path: Path, capsys, text: str, message: str
) -> None:
    request = tmp_path / "req.json"
    request.write_text(text, encoding="utf-8")
    status, _, err = run(capsys, "apply", str(EMBEDDED), "--request", str(request))
    assert status == 1
    assert err.startswith(f"{request}{message}")


def test_apply_lists_the_problems_of_a_broken_mapping(tmp_path: Path, capsys) -> None:
    mapping = write(tmp_path, BROKEN)
    request = write_json(tmp_path, "req.json", POTHOLE)
    status, _, err = run(capsys, "apply", str(mapping), "--request", str(request))
    assert status == 1
    assert f"{mapping}:3:1: servicez: unknown key 'servicez'" in err


def test_apply_refuses_a_time_without_a_zone(capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["mapping", "apply", str(EMBEDDED), "--record", "r.json", "--now", "2026-05-01"])
    assert stopped.value.code == 2
    assert "argument --now: '2026-05-01' is not an RFC 3339 date-time" in capsys.readouterr().err


# --- apply --record / --update-record -------------------------------------------------


def test_apply_record_prints_the_request_as_the_gateway_serves_it(tmp_path: Path, capsys) -> None:
    record = write_json(tmp_path, "rec.json", TICKET)
    status, out, err = run(capsys, "apply", str(EMBEDDED), "--record", str(record))
    assert (status, err) == (0, "")
    assert json.loads(out) == [
        {
            "service_request_id": "7",
            "status": "open",
            "service_name": "Pothole",
            "service_code": "POT",
            "description": "Deep hole by the bus stop",
            "agency_responsible": "Highways and Street Lighting",
            "requested_datetime": "2026-05-01T12:00:00Z",
            "lat": 51.5072,
            "long": -0.1276,
        }
    ]


def test_apply_record_reports_a_record_the_mapping_cannot_read(tmp_path: Path, capsys) -> None:
    record = write_json(tmp_path, "rec.json", {**TICKET, "category": "RD-LOST"})
    status, out, err = run(capsys, "apply", str(EMBEDDED), "--record", str(record))
    assert (status, out) == (1, "")
    assert err == (
        f"{record}: the record cannot be mapped: "
        "service_code: category: 'RD-LOST' is not in table 'category', which has no fallback\n"
    )


def test_apply_update_record_prints_the_update(tmp_path: Path, capsys) -> None:
    change = {"history_id": 9, "ticket_no": 7, "state": "DONE", "changed_at": NOW, "note": "Done"}
    record = write_json(tmp_path, "rec.json", change)
    status, out, _ = run(capsys, "apply", str(EMBEDDED), "--update-record", str(record))
    assert status == 0
    assert json.loads(out) == [
        {
            "update_id": "9",
            "service_request_id": "7",
            "status": "fixed",
            "updated_datetime": "2026-05-01T12:00:00Z",
            "description": "Done",
            "external_status_code": "DONE",
        }
    ]


def test_apply_update_record_needs_updates_read(tmp_path: Path, capsys) -> None:
    mapping = write(tmp_path, CONTEXT_MAPPING)
    record = write_json(tmp_path, "rec.json", {"id": 1})
    status, _, err = run(capsys, "apply", str(mapping), "--update-record", str(record))
    assert status == 1
    assert "does not read updates from the backend (updates.read)" in err


# --- schema ---------------------------------------------------------------------------


def test_schema_prints_the_generated_schema(capsys) -> None:
    status, out, _ = run(capsys, "schema")
    assert status == 0
    assert json.loads(out) == mapping_schema(installed_connectors())


def test_schema_writes_the_shipped_file(tmp_path: Path, capsys) -> None:
    target = tmp_path / SHIPPED_NAME
    status, out, _ = run(capsys, "schema", "--output", str(target))
    assert (status, out) == (0, f"wrote {target}\n")
    assert target.read_bytes() == mapping_path(SHIPPED_NAME).read_bytes()


def test_schema_reports_a_connector_that_cannot_be_loaded(monkeypatch, capsys) -> None:
    def broken() -> None:
        raise ConnectorNotFound("connector 'soap' failed to import: no module named 'zeep'")

    monkeypatch.setattr("gateway.mapping_commands.installed_connectors", broken)
    status, out, err = run(capsys, "schema")
    assert (status, out) == (1, "")
    assert err == "connector 'soap' failed to import: no module named 'zeep'\n"


# --- serve ----------------------------------------------------------------------------


def test_serve_stops_on_a_broken_mapping_listing_its_problems(tmp_path: Path, capsys) -> None:
    mapping = write(tmp_path, BROKEN)
    config = tmp_path / "gateway.yaml"
    config.write_text(f"jurisdictions:\n  - id: example.city\n    mapping: {mapping.name}\n")
    assert main(["serve", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"{mapping}:3:1: servicez: unknown key 'servicez'" in err
    assert f"{mapping}:4:10: tables.t.values: required key is missing" in err
