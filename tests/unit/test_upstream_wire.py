"""The open311 connector's wire: documents read the same from XML and JSON, records as
form parameters, the idempotency key's reference, and the settings' checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import Capability, PermanentError
from connectors.upstream import UpstreamConnector
from connectors.upstream.documents import (
    DocumentError,
    error_descriptions,
    read_list,
    read_object,
)
from connectors.upstream.forms import form_params
from connectors.upstream.references import (
    description_reference,
    wire_reference,
    with_reference,
    without_reference,
)
from connectors.upstream.settings import ReferenceSettings, UpstreamSettings
from connectors.upstream.windows import oldest_first, window_params, within
from gateway.mapping import load_mapping
from gateway.open311.errors import Problem
from gateway.open311.models import RequestStatus, ServiceRequest
from gateway.open311.render import (
    render_errors,
    render_requests,
    render_service_definition,
    render_services,
)
from mappings import mapping_path

FORMATS = ["json", "xml"]
EMBEDDED = load_mapping(mapping_path("embedded.yaml"))
REQUEST = ServiceRequest(
    service_request_id="12",
    status=RequestStatus.OPEN,
    service_code="POT",
    description='Deep <hole> & "more"',
    requested_datetime=datetime(2026, 5, 1, 12, tzinfo=UTC),
    lat=51.5,
    long=-0.12,
)


# --- documents --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_documents_read_alike_from_either_format(fmt: str) -> None:
    services = read_list(render_services(EMBEDDED.services, fmt), fmt)
    assert services[0] == {
        "service_code": "POT",
        "service_name": "Pothole",
        "description": "A hole or sunken area in a road or cycle lane.",
        "metadata": True,
        "type": "realtime",
        "keywords": "pothole,road,carriageway",
        "group": "Roads and pavements",
        "groups": ["Roads and pavements"],
    }
    definition = read_object(render_service_definition(EMBEDDED.definitions["FLY"], fmt), fmt)
    safety, waste = definition["attributes"][:2]
    assert (safety["variable"], safety["values"], safety["order"]) == (False, [], 1)
    assert waste["values"][0] == {"key": "household", "name": "Household rubbish"}
    assert read_list(render_requests([REQUEST], fmt), fmt) == [
        {
            "service_request_id": "12",
            "status": "open",
            "service_code": "POT",
            "description": 'Deep <hole> & "more"',
            "requested_datetime": "2026-05-01T12:00:00Z",
            "lat": 51.5,
            "long": -0.12,
        }
    ]


def test_xml_as_third_parties_write_it() -> None:
    """Pretty-printed, a repeated child, upper-case booleans, an empty list field."""
    body = b"""<?xml version="1.0"?>
    <services>
      <service>
        <service_code>7</service_code>
        <metadata>TRUE</metadata>
        <groups/>
        <media_url>a</media_url><media_url>b</media_url><media_url>c</media_url>
        <!-- a comment -->
      </service>
    </services>"""
    assert read_list(body, "xml") == [
        {"service_code": "7", "metadata": True, "groups": [], "media_url": ["a", "b", "c"]}
    ]


def test_xml_in_a_namespace() -> None:
    body = b"""<?xml version="1.0"?>
    <s:services xmlns:s="urn:x" xmlns="urn:y">
      <service><service_code>POT</service_code><groups><s:group>Roads</s:group></groups></service>
    </s:services>"""
    assert read_list(body, "xml") == [{"service_code": "POT", "groups": ["Roads"]}]


def test_json_as_third_parties_write_it() -> None:
    body = b'{"service_requests": [{"service_request_id": 12, "lat": "51.5", "long": null}]}'
    assert read_list(body, "json") == [{"service_request_id": 12, "lat": 51.5}]


def test_xml_entities_are_not_expanded() -> None:
    body = b"""<?xml version="1.0"?>
    <!DOCTYPE services [
      <!ENTITY word "expanded">
      <!ENTITY file SYSTEM "file:///etc/passwd">
    ]>
    <services><service><a>&word;</a><b>&file;</b></service></services>"""
    assert read_list(body, "xml") == [{"a": "", "b": ""}]


@pytest.mark.parametrize(
    ("body", "fmt"),
    [
        (b"<html>Bad gateway</html", "xml"),
        (b"<html><body>Maintenance</body></html>", "xml"),
        (b"Maintenance", "json"),
        (b'{"a": 1, "b": 2}', "json"),
        (b"[1, 2]", "json"),
    ],
)
def test_what_is_not_a_list_of_records(body: bytes, fmt: Any) -> None:
    with pytest.raises(DocumentError):
        read_list(body, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_error_descriptions(fmt: Any) -> None:
    body = render_errors([Problem(400, "one"), Problem(400, "two")], fmt)
    assert error_descriptions(body, fmt) == ["one", "two"]
    assert error_descriptions(b"<h1>502</h1>", fmt) == []


# --- forms ------------------------------------------------------------------------------


def test_a_record_as_form_parameters() -> None:
    record = {
        "service_code": "POT",
        "lat": 51.5,
        "count": 3,
        "amount": Decimal("1.50"),
        "urgent": True,
        "email": None,
        "media_url": ["https://a", "https://b"],
        "seen": datetime(2026, 5, 1, 12, tzinfo=UTC),
        "naive": datetime(2026, 5, 1, 12),
        "attributes": {"depth": "12", "items": ["sofa", "fridge"], "empty": None},
    }
    assert form_params(record) == [
        ("service_code", "POT"),
        ("lat", "51.5"),
        ("count", "3"),
        ("amount", "1.50"),
        ("urgent", "true"),
        ("media_url", "https://a"),
        ("media_url", "https://b"),
        ("seen", "2026-05-01T12:00:00Z"),
        ("naive", "2026-05-01T12:00:00Z"),
        ("attribute[depth]", "12"),
        ("attribute[items][]", "sofa"),
        ("attribute[items][]", "fridge"),
    ]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"api_key": "x"}, "'api_key' comes from the connector's settings"),
        ({"jurisdiction_id": "x"}, "'jurisdiction_id' comes from the connector's settings"),
        ({"contact": {"email": "x"}}, "'contact' cannot be sent as a form parameter"),
        ({"attributes": ["depth"]}, "'attributes' must be a record"),
        ({"media_url": [{"url": "x"}]}, "'media_url' cannot be sent as a form parameter"),
    ],
)
def test_what_cannot_be_a_form(record: dict[str, Any], message: str) -> None:
    with pytest.raises(PermanentError, match=message):
        form_params(record)


# --- references -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["header:report-1", "param:attribute[fixmystreet_id]=12", "fingerprint:" + "a" * 64]
)
def test_a_plain_key_is_its_own_reference(key: str) -> None:
    assert wire_reference(key) == key


@pytest.mark.parametrize("key", ["k" * 201, "header:café", "header:a\nb", " header:a", "a\x00"])
def test_any_other_key_travels_as_its_digest(key: str) -> None:
    reference = wire_reference(key)
    assert reference.startswith("sha256:") and len(reference) == 71
    assert wire_reference(key) == reference


def test_the_reference_goes_where_the_settings_say() -> None:
    payload = {"description": "Deep hole", "attributes": {"depth": "12"}}
    settings = ReferenceSettings(description=True)
    marked = with_reference(payload, "key-1", settings)
    assert marked == {
        "description": "Deep hole\n\n[gateway-ref: key-1]",
        "attributes": {"depth": "12", "gateway_ref": "key-1"},
    }
    assert payload == {"description": "Deep hole", "attributes": {"depth": "12"}}
    assert with_reference({}, "key-1", ReferenceSettings(attribute=None)) == {}
    assert with_reference({}, "k", settings) == {
        "description": "[gateway-ref: k]",
        "attributes": {"gateway_ref": "k"},
    }


def test_a_long_description_is_cut_to_fit_the_reference() -> None:
    marked = with_reference(
        {"description": "x" * 4000}, "key-1", ReferenceSettings(description=True)
    )
    assert len(marked["description"]) == 4000
    assert marked["description"].endswith("x\n\n[gateway-ref: key-1]")


@pytest.mark.parametrize(
    "description",
    [
        "Deep hole\n\n[gateway-ref: param:attribute[id]=5]",
        "Deep hole\r\n\r\n[gateway-ref: param:attribute[id]=5]\n",
    ],
)
def test_the_reference_read_back_and_taken_off(description: str) -> None:
    record = {"service_request_id": "1", "description": description}
    assert description_reference(record) == "param:attribute[id]=5"
    assert without_reference(record) == {"service_request_id": "1", "description": "Deep hole"}


def test_a_description_without_the_reference() -> None:
    record = {"description": "Deep hole [gateway-ref: inside] and more"}
    assert description_reference(record) is None
    assert without_reference(record) is record
    assert description_reference({}) is None


# --- windows ----------------------------------------------------------------------------

NOW = datetime(2026, 5, 1, 12, 0, 30, 250_000, tzinfo=UTC)


def test_a_window_goes_out_widened_to_whole_seconds() -> None:
    assert window_params(NOW - timedelta(hours=1), NOW) == [
        ("start_date", "2026-05-01T11:00:30Z"),
        ("end_date", "2026-05-01T12:00:31Z"),
    ]
    assert window_params(None, NOW.replace(microsecond=0)) == [("end_date", "2026-05-01T12:00:30Z")]
    assert window_params(datetime(2026, 5, 1), None) == [("start_date", "2026-05-01T00:00:00Z")]


def test_a_window_of_90_days_stays_within_them() -> None:
    assert window_params(NOW - timedelta(days=90), NOW) == [
        ("start_date", "2026-01-31T12:00:31Z"),
        ("end_date", "2026-05-01T12:00:31Z"),
    ]


def test_bounds_that_are_not_date_times() -> None:
    with pytest.raises(PermanentError, match="start_date must be a date-time"):
        window_params("yesterday", None)


def test_records_are_held_to_the_exact_window() -> None:
    at = {
        "before": "2026-05-01T12:00:30.100000+00:00",
        "start": "2026-05-01T12:00:30.250000+00:00",
        "naive": "2026-05-01T12:00:31",
        "end": "2026-05-01T13:00:30.250000Z",
    }
    records = [{"id": name, "t": text} for name, text in at.items()] + [{"id": "?", "t": "x"}]
    kept = within(records, "t", NOW, NOW + timedelta(hours=1))
    assert [record["id"] for record in kept] == ["start", "naive", "?"]
    assert [r["id"] for r in oldest_first(kept[::-1], "t")] == ["?", "start", "naive"]


# --- settings ---------------------------------------------------------------------------


def test_settings_defaults() -> None:
    settings = UpstreamSettings(endpoint="https://city.example/open311/v2/")
    assert settings.endpoint == "https://city.example/open311/v2"
    assert (settings.format, settings.updates, settings.pool_size) == ("json", "detect", 10)
    assert settings.reference == ReferenceSettings(
        header=True, attribute="gateway_ref", description=False, find="header"
    )


def test_the_api_key_is_never_shown() -> None:
    settings = UpstreamSettings(endpoint="http://127.0.0.1", api_key="s3cret")
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())
    assert UpstreamSettings(endpoint="http://127.0.0.1", api_key="  ").api_key is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"endpoint": "ftp://city.example"}, "http:// or https:// URL"),
        ({"endpoint": "city.example"}, "http:// or https:// URL"),
        ({"endpoint": "http://city.example/?a=1"}, "without a query"),
        ({"endpoint": "http://c.example", "format": "csv"}, "'json' or 'xml'"),
        ({"endpoint": "http://c.example", "timeout": 3}, "Extra inputs are not permitted"),
        ({"endpoint": "http://c.example", "updates": "maybe"}, "updates"),
        ({"endpoint": "http://c.example", "token_polls": 51}, "less than or equal to 50"),
        (
            {"endpoint": "http://c.example", "reference": {"header": False}},
            "find: header needs header: true",
        ),
        (
            {"endpoint": "http://c.example", "reference": {"find": "description"}},
            "find: description needs description: true",
        ),
        (
            {"endpoint": "http://c.example", "reference": {"lookback_days": 90}},
            "less than or equal to 89",
        ),
    ],
)
def test_settings_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        UpstreamConnector(settings, {}, timeout=5)


def test_the_backend_section_is_empty() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        UpstreamConnector({"endpoint": "http://c.example"}, {"tickets": {}}, timeout=5)


@pytest.mark.parametrize(
    ("settings", "finds", "updates"),
    [
        ({}, True, True),
        ({"updates": False}, True, False),
        ({"updates": True, "reference": {"find": "none"}}, False, True),
    ],
)
def test_what_an_instance_supports(settings: dict[str, Any], finds: bool, updates: bool) -> None:
    connector = UpstreamConnector({"endpoint": "http://c.example", **settings}, {}, timeout=5)
    assert UpstreamConnector.capabilities_for({}) == frozenset(Capability)
    assert connector.supports(Capability.FIND_BY_REFERENCE) is finds
    assert connector.supports(Capability.UPDATES) is updates
    assert connector.supports(Capability.POST_UPDATE) is updates
    assert connector.supports(Capability.LIST_SERVICES)
