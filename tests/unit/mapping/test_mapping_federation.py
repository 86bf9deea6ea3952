"""mappings/examples/federation.yaml, golden: what an Open311 request becomes for the
upstream, and what the upstream's documents (as the open311 connector reads them from
this gateway's own rendering, in XML and JSON) become again: the same models."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.base import Range
from connectors.upstream.documents import read_list, read_object
from gateway.mapping import MappingContext, load_mapping
from gateway.open311.models import (
    Location,
    NewRequestUpdate,
    NewServiceRequest,
    RequestQuery,
    RequestStatus,
    RequestUpdate,
    ServiceRequest,
    UpdateStatus,
)
from gateway.open311.render import (
    render_requests,
    render_service_definition,
    render_services,
    render_updates,
)
from mappings import mapping_path

FEDERATION = load_mapping(mapping_path("examples/federation.yaml"))
UPSTREAM = load_mapping(mapping_path("embedded.yaml"))
NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
CONTEXT = MappingContext("federated.city", "key-1", NOW)
FORMATS = ["json", "xml"]


def test_a_new_request_becomes_the_upstreams_post() -> None:
    request = NewServiceRequest(
        service_code="FLY",
        location=Location(lat=51.5, long=-0.12, address_string="1 High Street"),
        attributes={"waste_types": ("tyres", "furniture"), "amount": "van"},
        description="Behind the shops",
        email="alice@example.org",
        device_id="d-1",
        first_name="Alice",
        media_urls=("https://img.example/1.jpg", "https://img.example/2.jpg"),
    )
    assert FEDERATION.create_payload(request, CONTEXT) == {
        "service_code": "FLY",
        "lat": 51.5,
        "long": -0.12,
        "address_string": "1 High Street",
        "description": "Behind the shops",
        "email": "alice@example.org",
        "device_id": "d-1",
        "first_name": "Alice",
        "media_url": "https://img.example/1.jpg",
        "attributes": {"waste_types": ["tyres", "furniture"], "amount": "van"},
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_upstreams_request_reads_back_the_same(fmt: str) -> None:
    request = ServiceRequest(
        service_request_id="12",
        status=RequestStatus.CLOSED,
        status_notes="Filled",
        service_name="Pothole",
        service_code="POT",
        description="Deep hole",
        agency_responsible="Highways",
        service_notice="Within 5 days",
        requested_datetime=NOW,
        updated_datetime=NOW,
        expected_datetime=NOW,
        address="1 High Street",
        address_id="A-1",
        zipcode="AB1 2CD",
        lat=51.5,
        long=-0.12,
        media_url="https://img.example/1.jpg",
    )
    [record] = read_list(render_requests([request], fmt), fmt)
    assert FEDERATION.service_request(record) == request


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_upstreams_update_reads_back_the_same(fmt: str) -> None:
    update = RequestUpdate(
        update_id="77",
        service_request_id="12",
        status=UpdateStatus.ACTION_SCHEDULED,
        updated_datetime=NOW,
        description="Booked for Monday",
        external_status_code="SCHEDULED",
    )
    [record] = read_list(render_updates([update], fmt), fmt)
    assert FEDERATION.request_update(record) == update


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_upstreams_catalogue_reads_back_the_same(fmt: str) -> None:
    records = read_list(render_services(UPSTREAM.services, fmt), fmt)
    for record in records:
        code = record["service_code"]
        if record["metadata"]:
            definition = render_service_definition(UPSTREAM.definitions[code], fmt)
            record["attributes"] = read_object(definition, fmt)["attributes"]
    assert FEDERATION.backend_catalogue is not None
    contents = FEDERATION.backend_catalogue.build(records)
    assert (contents.services, contents.definitions) == (UPSTREAM.services, UPSTREAM.definitions)


def test_a_citizens_update_becomes_the_upstreams_post() -> None:
    update = NewRequestUpdate(
        service_request_id="12",
        update_id="fms-1",
        status=UpdateStatus.NOT_COUNCILS_RESPONSIBILITY,
        updated_datetime=NOW,
        description="Not ours",
        email="bob@example.org",
    )
    assert FEDERATION.update_payload(update, CONTEXT) == {
        "service_request_id": "12",
        "update_id": "fms-1",
        "status": "NOT_COUNCILS_RESPONSIBILITY",
        "updated_datetime": NOW,
        "description": "Not ours",
        "email": "bob@example.org",
    }


def test_filters_become_the_upstreams() -> None:
    query = FEDERATION.backend_query(
        RequestQuery(
            service_codes=("POT", "DOG"),
            statuses=(RequestStatus.CLOSED,),
            start=NOW,
            end=NOW.replace(hour=13),
        )
    )
    assert dict(query.any_of) == {"service_code": ("POT", "DOG"), "status": ("closed",)}
    assert dict(query.ranges) == {"requested_datetime": Range(NOW, NOW.replace(hour=13))}
