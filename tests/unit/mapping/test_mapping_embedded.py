"""The embedded default mapping: golden payloads, round trips and its status tables."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from gateway.mapping import CompiledMapping, MappingContext, MappingError, load_mapping
from gateway.open311.models import (
    Datatype,
    Location,
    NewRequestUpdate,
    RequestQuery,
    RequestStatus,
    ServiceType,
    UpdateStatus,
)
from mappings import mapping_path

from mappingfiles import CONTEXT, NOW, request


@pytest.fixture(scope="module")
def embedded() -> CompiledMapping:
    return load_mapping(mapping_path("embedded.yaml"))


def test_embedded_catalogue(embedded: CompiledMapping) -> None:
    services = {service.service_code: service for service in embedded.services}
    assert len(services) >= 7
    assert any(service.type is ServiceType.BATCH for service in services.values())
    assert any(not service.metadata for service in services.values())
    assert all(service.group and service.keywords for service in services.values())
    assert set(embedded.definitions) == {c for c, s in services.items() if s.metadata}
    every = {
        code
        for code, definition in embedded.definitions.items()
        if {a.datatype for a in definition.attributes if a.variable} == set(Datatype)
        and any(not a.variable for a in definition.attributes)
    }
    assert every


def test_embedded_golden_request(embedded: CompiledMapping) -> None:
    new = request(
        service_code="FLY",
        location=Location(lat=51.5, long=-0.1, address_string="Back Lane"),
        description="Tyres dumped",
        email="ann@example.org",
        first_name="Ann",
        media_urls=("http://img/1.jpg",),
        attributes={"waste_types": ("tyres",), "amount": "van"},
    )
    assert embedded.create_payload(new, CONTEXT) == {
        "category": "ENV-FLY",
        "dept": "STREETCARE",
        "state": "NEW",
        "priority": "NORMAL",
        "summary": "Tyres dumped",
        "latitude": 51.5,
        "longitude": -0.1,
        "location_text": "Back Lane",
        "reporter_email": "ann@example.org",
        "reporter_first_name": "Ann",
        "photo_url": "http://img/1.jpg",
        "details": {"waste_types": ["tyres"], "amount": "van"},
        "channel": "OPEN311",
        "created_at": NOW,
        "updated_at": NOW,
        "history": {
            "state": "NEW",
            "note": "Reported through Open311",
            "photo_url": "http://img/1.jpg",
            "source": "open311",
        },
    }


def _stored(payload: dict, ticket_no: int) -> dict:
    """What the ticket table would hold: the payload's columns, an id and the reference."""
    row = {key: value for key, value in payload.items() if key != "history"}
    return {**row, "ticket_no": ticket_no, "external_ref": CONTEXT.idempotency_key}


def test_embedded_round_trip_of_every_service(embedded: CompiledMapping) -> None:
    for number, service in enumerate(embedded.services, start=1):
        new = request(
            service_code=service.service_code,
            location=Location(lat=51.5, long=-0.1, address_string="1 High St", address_id="U1"),
            description="Please fix",
            media_urls=("http://img/1.jpg",),
        )
        stored = _stored(embedded.create_payload(new, CONTEXT), number)
        found = embedded.service_request(stored)
        assert found.service_request_id == embedded.service_request_id(stored) == str(number)
        assert found.service_code == service.service_code
        assert found.status is RequestStatus.OPEN
        assert (found.lat, found.long) == (51.5, -0.1)
        assert (found.address, found.address_id) == ("1 High St", "U1")
        assert (found.description, found.media_url) == ("Please fix", "http://img/1.jpg")
        assert found.requested_datetime == NOW
        assert found.agency_responsible


def test_a_record_without_an_id_is_a_mapping_error(embedded: CompiledMapping) -> None:
    with pytest.raises(MappingError, match="no value for service_request_id"):
        embedded.service_request_id({"category": "RD-POT"})


@pytest.mark.parametrize(
    ("state", "status", "update_status"),
    [
        ("NEW", "open", "open"),
        ("TRIAGED", "open", "investigating"),
        ("ASSIGNED", "open", "in_progress"),
        ("SCHEDULED", "open", "action_scheduled"),
        ("DONE", "closed", "fixed"),
        ("REJECTED", "closed", "not_councils_responsibility"),
        ("DUPLICATE", "closed", "duplicate"),
    ],
)
def test_embedded_statuses(
    embedded: CompiledMapping, state: str, status: str, update_status: str
) -> None:
    payload = embedded.create_payload(request(service_code="DOG"), CONTEXT)
    ticket = {**_stored(payload, 5), "state": state}
    assert embedded.service_request(ticket).status == status
    change = {"history_id": 9, "ticket_no": 5, "state": state, "changed_at": NOW, "ticket": ticket}
    update = embedded.request_update(change)
    assert (update.update_id, update.status, update.external_status_code) == (
        "9",
        update_status,
        state,
    )
    query = embedded.backend_query(RequestQuery(statuses=(RequestStatus(status),)))
    assert state in query.any_of["state"]


def test_embedded_citizen_updates(embedded: CompiledMapping) -> None:
    update = NewRequestUpdate(
        service_request_id="5",
        update_id="fms-1",
        status=UpdateStatus.FIXED,
        updated_datetime=NOW - timedelta(minutes=5),
        description="Looks fixed to me",
        media_url="http://img/2.jpg",
    )
    context = MappingContext("example.city", "fms-1", NOW)
    assert embedded.update_payload(update, context) == {
        "ticket_no": "5",
        "state": "DONE",
        "note": "Looks fixed to me",
        "photo_url": "http://img/2.jpg",
        "changed_at": NOW,
        "source": "citizen",
        "ticket": {"state": "DONE", "updated_at": NOW},
    }
    comment = update.model_copy(update={"status": UpdateStatus.OPEN})
    payload = embedded.update_payload(comment, context)
    assert "state" not in payload and payload["ticket"] == {"updated_at": NOW}
    stored = {**payload, "history_id": 31, "changed_at": NOW.astimezone(timezone(timedelta(0)))}
    assert embedded.request_update(stored).status is UpdateStatus.OPEN


def test_embedded_query_for_service_codes(embedded: CompiledMapping) -> None:
    query = embedded.backend_query(RequestQuery(service_codes=("POT", "BULKY")))
    assert query.any_of == {"category": ("RD-POT", "WST-BULK")}
    assert query.order_by == "created_at"


@pytest.mark.parametrize(
    ("service_code", "attributes", "priority"),
    [
        ("POT", {"depth": "4", "position": "junction"}, "HIGH"),
        ("POT", {"depth": "4", "position": "carriageway"}, "NORMAL"),
        ("FLY", {"waste_types": ("tyres", "hazardous"), "amount": "bag"}, "HIGH"),
        ("FLY", {"waste_types": ("household",), "amount": "bag"}, "NORMAL"),
        ("GRAF", {"offensive": "yes"}, "HIGH"),
        ("GRAF", {"offensive": "no"}, "NORMAL"),
        ("DOG", {}, "NORMAL"),
    ],
)
def test_embedded_priority(
    embedded: CompiledMapping, service_code: str, attributes: dict, priority: str
) -> None:
    new = request(service_code=service_code, attributes=attributes)
    assert embedded.create_payload(new, CONTEXT)["priority"] == priority


def test_embedded_unknown_state_reads_as_open(embedded: CompiledMapping) -> None:
    payload = embedded.create_payload(request(service_code="DOG"), CONTEXT)
    ticket = {**_stored(payload, 5), "state": "ON_HOLD"}
    assert embedded.service_request(ticket).status is RequestStatus.OPEN
