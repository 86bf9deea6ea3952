"""Validation against a service definition: normalised values, every problem listed."""

from __future__ import annotations

import pytest

from gateway.open311.errors import Open311Error
from gateway.open311.models import (
    Attribute,
    AttributeInput,
    AttributeValue,
    Location,
    NewServiceRequest,
    ServiceDefinition,
)
from gateway.open311.validate import validate_against_definition

SIZES = (
    AttributeValue(key="small", name="Small"),
    AttributeValue(key="medium", name="Medium"),
    AttributeValue(key="large", name="Large"),
)
KINDS = (AttributeValue(key="a", name="A"), AttributeValue(key="b", name="B"))

DEFINITION = ServiceDefinition(
    service_code="POT",
    attributes=(
        Attribute(code="depth", datatype="number", required=True, order=2, description="cm"),
        Attribute(code="size", datatype="singlevaluelist", order=1, description="s", values=SIZES),
        Attribute(code="kinds", datatype="multivaluelist", order=3, description="k", values=KINDS),
        Attribute(code="seen", datatype="datetime", order=4, description="when"),
        Attribute(code="note", datatype="string", order=5, description="free text"),
        Attribute(code="info", variable=False, datatype="text", order=6, description="read me"),
        Attribute(
            code="usrn",
            datatype="string",
            required=True,
            order=7,
            description="street",
            automated="server_set",
        ),
        Attribute(
            code="asset",
            datatype="string",
            required=True,
            order=8,
            description="asset",
            automated="hidden_field",
        ),
    ),
)

VALID: dict[str, AttributeInput] = {"depth": "12.5", "asset": "L1"}


def request(**attributes: AttributeInput) -> NewServiceRequest:
    return NewServiceRequest(
        service_code="POT",
        location=Location(address_string="here"),
        attributes={**VALID, **attributes},
    )


def problems(req: NewServiceRequest) -> list[str]:
    with pytest.raises(Open311Error) as caught:
        validate_against_definition(req, DEFINITION)
    assert caught.value.status == 400
    return [p.description for p in caught.value.problems]


def test_valid_request_passes_unchanged() -> None:
    req = request()
    assert validate_against_definition(req, DEFINITION) == req


def test_values_are_normalised() -> None:
    req = request(
        size=("medium",),
        kinds="a",
        note=("free",),
        seen="2026-01-02T03:04:05.5+01:00",
    )
    result = validate_against_definition(req, DEFINITION)
    assert result.attributes == {
        "depth": "12.5",
        "asset": "L1",
        "size": "medium",
        "kinds": ("a",),
        "note": "free",
        "seen": "2026-01-02T03:04:05.5+01:00",
    }
    assert result.location == req.location


def test_multivaluelist_keeps_order_and_drops_repeats() -> None:
    result = validate_against_definition(request(kinds=("b", "a", "b")), DEFINITION)
    assert result.attributes["kinds"] == ("b", "a")


def test_unknown_attributes_are_kept_untouched() -> None:
    """FixMyStreet sends its own fields as attributes; back offices rely on them."""
    extra: dict[str, AttributeInput] = {
        "fixmystreet_id": "123",
        "title": "Hole",
        "easting": "530000",
        "photos": ("1", "2"),
    }
    result = validate_against_definition(request(**extra), DEFINITION)
    assert {k: result.attributes[k] for k in extra} == extra
    assert list(result.attributes) == [*VALID, *extra]


def test_non_variable_attributes_are_dropped() -> None:
    result = validate_against_definition(request(info="sent anyway"), DEFINITION)
    assert "info" not in result.attributes


def test_server_set_is_not_required_but_hidden_field_is() -> None:
    req = NewServiceRequest(
        service_code="POT", location=Location(address_id="A1"), attributes={"depth": "1"}
    )
    assert problems(req) == ["attribute[asset]: required"]


def test_server_set_value_from_client_is_kept() -> None:
    assert validate_against_definition(request(usrn="U1"), DEFINITION).attributes["usrn"] == "U1"


@pytest.mark.parametrize("empty", ["", ()])
def test_empty_value_counts_as_missing(empty: AttributeInput) -> None:
    assert problems(request(depth=empty)) == ["attribute[depth]: required"]


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"depth": "abc"}, "attribute[depth]: 'abc' is not a number"),
        ({"depth": "nan"}, "attribute[depth]: 'nan' is not a number"),
        ({"size": "huge"}, "attribute[size]: 'huge' is not one of small, medium, large"),
        ({"size": ("small", "large")}, "attribute[size]: 2 values given, one expected"),
        ({"note": ("x", "y")}, "attribute[note]: 2 values given, one expected"),
        ({"kinds": ("a", "z")}, "attribute[kinds]: 'z' is not one of a, b"),
        ({"kinds": "z"}, "attribute[kinds]: 'z' is not one of a, b"),
        (
            {"seen": "yesterday"},
            "attribute[seen]: 'yesterday' is not an RFC 3339 date-time with a time zone",
        ),
    ],
)
def test_each_problem(attributes: dict[str, AttributeInput], message: str) -> None:
    assert problems(request(**attributes)) == [message]


def test_every_problem_is_listed_in_definition_order() -> None:
    req = NewServiceRequest(
        service_code="POT",
        location=Location(address_string="here"),
        attributes={"kinds": ("x", "y"), "size": "huge", "seen": "2026-01-02"},
    )
    assert problems(req) == [
        "attribute[size]: 'huge' is not one of small, medium, large",
        "attribute[depth]: required",
        "attribute[kinds]: 'x' is not one of a, b",
        "attribute[kinds]: 'y' is not one of a, b",
        "attribute[seen]: '2026-01-02' is not an RFC 3339 date-time with a time zone",
        "attribute[asset]: required",
    ]


def test_definition_without_attributes_accepts_anything() -> None:
    req = request(anything="goes")
    assert validate_against_definition(req, ServiceDefinition(service_code="POT")) == req
