"""Rendering: element names and nesting, JSON types, schema validity, and XML/JSON agreement."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from lxml import etree

from gateway.open311.errors import Problem
from gateway.open311.models import (
    Attribute,
    AttributeValue,
    Discovery,
    Endpoint,
    RequestReceipt,
    RequestUpdate,
    Service,
    ServiceDefinition,
    ServiceRequest,
)
from gateway.open311.render import (
    CONTENT_TYPES,
    Format,
    render_discovery,
    render_errors,
    render_receipts,
    render_requests,
    render_service_definition,
    render_services,
    render_updates,
)

from schemas import assert_matches
from wire import spark, stringify

WHEN = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
PARIS = timezone(timedelta(hours=1))

POTHOLE = Service(
    service_code="POT",
    service_name="Pothole",
    description="A hole in the road",
    metadata=True,
    type="batch",
    keywords=("roads", "holes"),
    group="Highways",
    groups=("Highways", "Roads"),
)
BARE = Service(service_code="LIT", service_name="Litter", metadata=False)

DEFINITION = ServiceDefinition(
    service_code="POT",
    attributes=(
        Attribute(
            code="size",
            datatype="singlevaluelist",
            required=True,
            datatype_description="Pick one",
            order=1,
            description="How big?",
            values=(AttributeValue(key="small", name="Small"),),
        ),
        Attribute(
            variable=False,
            code="note",
            datatype="text",
            order=2,
            description="Read this",
        ),
        Attribute(
            code="usrn",
            datatype="string",
            order=3,
            description="Street",
            automated="hidden_field",
        ),
        Attribute(
            code="kinds",
            datatype="multivaluelist",
            order=4,
            description="Kinds",
            values=(AttributeValue(key="a", name="A"), AttributeValue(key="b", name="B")),
        ),
    ),
)

FULL_REQUEST = ServiceRequest(
    service_request_id="638344",
    status="closed",
    status_notes="Duplicate request.",
    service_name="Pothole",
    service_code="POT",
    description="Big\r\nhole",
    agency_responsible="Roads",
    service_notice="Soon",
    requested_datetime=WHEN,
    updated_datetime=WHEN.astimezone(PARIS),
    expected_datetime=WHEN + timedelta(days=1),
    address="1 High St",
    address_id="A1",
    zipcode="AB1 2CD",
    lat=51.5,
    long=-0.125,
    media_url="https://example.org/p.jpg",
)
BARE_REQUEST = ServiceRequest(
    service_request_id="1", status="open", service_code="POT", requested_datetime=WHEN
)

UPDATE = RequestUpdate(
    update_id="u1",
    service_request_id="638344",
    status="in_progress",
    updated_datetime=WHEN,
    description="On it",
    media_url="https://example.org/u.jpg",
    external_status_code="IP",
)

DISCOVERY = Discovery(
    changeset=WHEN,
    contact="311@example.org",
    key_service="https://example.org/keys",
    endpoints=(
        Endpoint(url="https://example.org/open311/v2", changeset=WHEN),
        Endpoint(
            url="https://test.example.org/open311/v2",
            changeset=WHEN,
            type="test",
            formats=("text/xml",),
        ),
    ),
)

RESOURCES: dict[str, Callable[[Format], bytes]] = {
    "services": lambda f: render_services([POTHOLE, BARE], f),
    "one_service": lambda f: render_services([BARE], f),
    "no_services": lambda f: render_services([], f),
    "definition": lambda f: render_service_definition(DEFINITION, f),
    "empty_definition": lambda f: render_service_definition(ServiceDefinition(service_code="X"), f),
    "requests": lambda f: render_requests([FULL_REQUEST, BARE_REQUEST], f),
    "receipts": lambda f: render_receipts(
        [RequestReceipt(service_request_id="1", service_notice="n", account_id="a")], f
    ),
    "token": lambda f: render_receipts([RequestReceipt(token="t1", service_request_id="9")], f),
    "updates": lambda f: render_updates([UPDATE], f),
    "discovery": lambda f: render_discovery(DISCOVERY, f),
    "errors": lambda f: render_errors([Problem(400, "a"), Problem(400, "b")], f),
}


def both(render: Callable[[Format], bytes]) -> tuple[etree._Element, Any]:
    return etree.fromstring(render("xml")), json.loads(render("json"))


def test_content_types() -> None:
    assert CONTENT_TYPES == {
        "xml": "text/xml; charset=utf-8",
        "json": "application/json; charset=utf-8",
    }


@pytest.mark.parametrize("name", RESOURCES)
def test_xml_has_declaration_and_no_namespace(name: str) -> None:
    body = RESOURCES[name]("xml")
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert b"xmlns" not in body
    assert all(e.nsmap == {} for e in etree.fromstring(body).iter())


@pytest.mark.parametrize("name", RESOURCES)
def test_json_is_the_spark_reading_of_the_xml(name: str) -> None:
    render = RESOURCES[name]
    assert spark(render("xml")) == stringify(json.loads(render("json")))


def test_services_fields_in_model_order() -> None:
    xml, data = both(RESOURCES["services"])
    assert xml.tag == "services"
    assert [e.tag for e in xml] == ["service", "service"]
    assert [e.tag for e in xml[0]] == [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
        "groups",
    ]
    assert xml.findtext("service/metadata") == "true"
    assert [g.text for g in xml.find("service/groups")] == ["Highways", "Roads"]
    assert [g.tag for g in xml.find("service/groups")] == ["group", "group"]
    assert data[0] == {
        "service_code": "POT",
        "service_name": "Pothole",
        "description": "A hole in the road",
        "metadata": True,
        "type": "batch",
        "keywords": "roads,holes",
        "group": "Highways",
        "groups": ["Highways", "Roads"],
    }


def test_services_omit_empty_keywords_group_and_groups() -> None:
    xml, data = both(RESOURCES["one_service"])
    assert [e.tag for e in xml[0]] == [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
    ]
    assert data == [
        {
            "service_code": "LIT",
            "service_name": "Litter",
            "description": "",
            "metadata": False,
            "type": "realtime",
        }
    ]


def test_no_services_is_an_empty_list() -> None:
    assert RESOURCES["no_services"]("json") == b"[]"
    assert etree.tostring(etree.fromstring(RESOURCES["no_services"]("xml"))) == b"<services/>"


@pytest.mark.parametrize("name", ["services", "one_service", "no_services"])
def test_services_json_matches_schema(name: str) -> None:
    assert_matches("services", json.loads(RESOURCES[name]("json")))


def test_json_is_compact_utf8() -> None:
    body = render_services([Service(service_code="é", service_name="Ünï", metadata=False)], "json")
    assert body.startswith(b'[{"service_code":"\xc3\xa9","service_name"')


def test_service_definition_nesting() -> None:
    xml, data = both(RESOURCES["definition"])
    assert xml.tag == "service_definition"
    assert [e.tag for e in xml] == ["service_code", "attributes"]
    first = xml.find("attributes/attribute")
    assert [e.tag for e in first] == [
        "variable",
        "code",
        "datatype",
        "required",
        "datatype_description",
        "order",
        "description",
        "values",
    ]
    assert [e.tag for e in first.find("values/value")] == ["key", "name"]
    assert xml.findtext("attributes/attribute/values/value/key") == "small"
    size, note, usrn, kinds = data["attributes"]
    assert size["values"] == [{"key": "small", "name": "Small"}]
    assert (size["variable"], size["required"], size["order"]) == (True, True, 1)
    assert note["variable"] is False
    assert "datatype_description" not in note
    assert note["values"] == []
    assert usrn["automated"] == "hidden_field"
    assert "automated" not in size
    assert len(kinds["values"]) == 2


def test_service_definition_without_attributes_has_empty_array() -> None:
    xml, data = both(RESOURCES["empty_definition"])
    assert etree.tostring(xml.find("attributes")) == b"<attributes/>"
    assert data == {"service_code": "X", "attributes": []}


@pytest.mark.parametrize("name", ["definition", "empty_definition"])
def test_service_definition_json_matches_schema(name: str) -> None:
    assert_matches("service-definition", json.loads(RESOURCES[name]("json")))


def test_requests_fields_types_and_dates() -> None:
    xml, data = both(RESOURCES["requests"])
    assert xml.tag == "service_requests"
    assert [e.tag for e in xml] == ["request", "request"]
    assert [e.tag for e in xml[0]] == list(ServiceRequest.model_fields)
    assert xml.findtext("request/lat") == "51.5"
    assert xml.findtext("request/long") == "-0.125"
    full, bare = data
    assert (full["lat"], full["long"]) == (51.5, -0.125)
    assert full["requested_datetime"] == "2026-01-02T03:04:05Z"
    assert full["updated_datetime"] == "2026-01-02T04:04:05+01:00"
    assert full["expected_datetime"] == "2026-01-03T03:04:05Z"
    assert bare == {
        "service_request_id": "1",
        "status": "open",
        "service_code": "POT",
        "requested_datetime": "2026-01-02T03:04:05Z",
    }


def test_requests_json_matches_schema() -> None:
    data = json.loads(RESOURCES["requests"]("json"))
    assert_matches("requests", data)
    for item in data:
        assert_matches("request", item)


def test_single_request_is_a_list_of_one() -> None:
    """request.json lacks "type": "object", so it would pass an array; check the shape."""
    data = json.loads(render_requests([BARE_REQUEST], "json"))
    assert isinstance(data, list)
    assert len(data) == 1
    assert isinstance(data[0], dict)
    assert_matches("request", data[0])
    assert [e.tag for e in etree.fromstring(render_requests([BARE_REQUEST], "xml"))] == ["request"]


def test_non_finite_coordinates_are_omitted() -> None:
    odd = BARE_REQUEST.model_copy(update={"lat": float("nan"), "long": float("inf")})
    data = json.loads(render_requests([odd], "json"))
    assert "lat" not in data[0]
    assert "long" not in data[0]


def test_receipt_with_id() -> None:
    xml, data = both(RESOURCES["receipts"])
    assert xml.tag == "service_requests"
    assert [e.tag for e in xml[0]] == ["service_request_id", "service_notice", "account_id"]
    assert data == [{"service_request_id": "1", "service_notice": "n", "account_id": "a"}]


def test_receipt_with_token_only_never_emits_an_empty_id() -> None:
    xml, data = both(lambda f: render_receipts([RequestReceipt(token="t1")], f))
    assert [e.tag for e in xml[0]] == ["token"]
    assert data == [{"token": "t1"}]


def test_resolved_token_shows_both() -> None:
    _, data = both(RESOURCES["token"])
    assert data == [{"service_request_id": "9", "token": "t1"}]


def test_updates() -> None:
    xml, data = both(RESOURCES["updates"])
    assert xml.tag == "service_request_updates"
    assert [e.tag for e in xml] == ["request_update"]
    assert data == [
        {
            "update_id": "u1",
            "service_request_id": "638344",
            "status": "in_progress",
            "updated_datetime": "2026-01-02T03:04:05Z",
            "description": "On it",
            "media_url": "https://example.org/u.jpg",
            "external_status_code": "IP",
        }
    ]


def test_update_omits_unset_optional_fields() -> None:
    bare = RequestUpdate(
        update_id="u2", service_request_id="1", status="fixed", updated_datetime=WHEN
    )
    data = json.loads(render_updates([bare], "json"))
    assert data == [
        {
            "update_id": "u2",
            "service_request_id": "1",
            "status": "fixed",
            "updated_datetime": "2026-01-02T03:04:05Z",
            "description": "",
        }
    ]


def test_discovery() -> None:
    xml, data = both(RESOURCES["discovery"])
    assert xml.tag == "discovery"
    assert [e.tag for e in xml] == ["changeset", "contact", "key_service", "endpoints"]
    endpoint = xml.find("endpoints/endpoint")
    assert [e.tag for e in endpoint] == ["specification", "url", "changeset", "type", "formats"]
    assert [f.text for f in endpoint.find("formats")] == ["text/xml", "application/json"]
    assert [f.tag for f in endpoint.find("formats")] == ["format", "format"]
    assert data["changeset"] == "2026-01-02T03:04:05Z"
    assert data["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert data["endpoints"][0]["formats"] == ["text/xml", "application/json"]
    assert data["endpoints"][1]["formats"] == ["text/xml"]
    assert data["endpoints"][1]["type"] == "test"


def test_errors() -> None:
    xml, data = both(RESOURCES["errors"])
    assert xml.tag == "errors"
    assert [[c.tag for c in e] for e in xml] == [["code", "description"]] * 2
    assert xml.findtext("error/code") == "400"
    assert data == [{"code": 400, "description": "a"}, {"code": 400, "description": "b"}]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("a\x00b\x01c\x08d\x0be\x0cf\x1fg", "abcdefg"),
        ("lone \ud800surrogate", "lone surrogate"),
        ("non\ufffechar\uffff", "nonchar"),
        ("tab\tline\nreturn\r", "tab\tline\nreturn\r"),
        ("C:\\bin\\u0041 \\f", "C:\\bin\\u0041 \\f"),
        ('"quoted" é ☃', '"quoted" é ☃'),
    ],
)
def test_illegal_xml_characters_are_stripped_in_both_formats(text: str, kept: str) -> None:
    def render(fmt: Format) -> bytes:
        return render_errors([Problem(400, text)], fmt)

    xml, data = both(render)
    assert xml.findtext("error/description") == kept
    assert data[0]["description"] == kept


def test_crlf_survives_both_formats() -> None:
    xml, data = both(RESOURCES["requests"])
    assert xml.findtext("request/description") == "Big\r\nhole"
    assert data[0]["description"] == "Big\r\nhole"


def test_datetime_keeps_its_offset_and_drops_fraction() -> None:
    minus = timezone(timedelta(hours=-5, minutes=-30))
    receipt = RequestUpdate(
        update_id="u",
        service_request_id="1",
        status="open",
        updated_datetime=datetime(2026, 7, 1, 12, 0, 0, 999999, tzinfo=minus),
    )
    data = json.loads(render_updates([receipt], "json"))
    assert data[0]["updated_datetime"] == "2026-07-01T12:00:00-05:30"


def test_an_order_beyond_64_bits_still_renders_in_both_formats() -> None:
    """orjson refuses such integers; the standard library's encoder writes them."""
    huge = 2**70
    attribute = Attribute(code="far", datatype="string", order=huge, description="Far", values=())
    definition = ServiceDefinition(service_code="FAR", attributes=(attribute,))
    xml, data = both(lambda fmt: render_service_definition(definition, fmt))
    assert xml.findtext("attributes/attribute/order") == str(huge)
    assert data["attributes"][0]["order"] == huge


@pytest.mark.parametrize(
    ("zone", "written"),
    [
        (UTC, "2026-07-01T12:00:00Z"),
        (timezone(timedelta(0), "GMT"), "2026-07-01T12:00:00Z"),
        (timezone(timedelta(hours=14)), "2026-07-01T12:00:00+14:00"),
    ],
)
def test_a_date_is_written_alike_in_both_formats(zone: timezone, written: str) -> None:
    request = BARE_REQUEST.model_copy(
        update={"requested_datetime": datetime(2026, 7, 1, 12, 0, 0, 5, tzinfo=zone)}
    )
    xml, data = both(lambda fmt: render_requests([request], fmt))
    assert xml.findtext("request/requested_datetime") == written
    assert data[0]["requested_datetime"] == written
