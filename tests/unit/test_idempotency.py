"""How a repeated POST is recognised: keys by origin, fingerprints of content."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.idempotency import Identity, fingerprint, fingerprint_key, identify
from gateway.open311.errors import Open311Error
from gateway.open311.models import Location, NewServiceRequest

REPORT = NewServiceRequest(
    service_code="POT",
    location=Location(lat=51.5072, long=-0.1276),
    attributes={"depth": "12", "position": "carriageway"},
    description="Deep hole",
    email="alice@example.org",
)


def test_the_header_comes_first_then_the_parameter_then_the_content() -> None:
    both = identify(REPORT, header=" k1 ", param="attribute[fms_id]", param_value="7")
    assert both == Identity("header:k1", None)
    assert identify(REPORT, header="", param="attribute[fms_id]", param_value="7") == Identity(
        "param:attribute[fms_id]=7", None
    )
    assert identify(REPORT, header=None, param="attribute[fms_id]", param_value=None) == Identity(
        None, fingerprint(REPORT)
    )


def test_a_header_and_a_parameter_of_the_same_text_are_different_keys() -> None:
    header = identify(REPORT, header="7")
    param = identify(REPORT, header=None, param="fms_id", param_value="7")
    assert header.key != param.key


@pytest.mark.parametrize("origin", ["header", "param"])
def test_keys_longer_than_200_characters_are_refused(origin: str) -> None:
    long = "k" * 201
    with pytest.raises(Open311Error) as refused:
        if origin == "header":
            identify(REPORT, header=long)
        else:
            identify(REPORT, header=None, param="fms_id", param_value=long)
    assert refused.value.status == 400 and "longer than 200 characters" in str(refused.value)


def test_the_fingerprint_ignores_attribute_order_and_photos_but_not_the_reporter() -> None:
    reordered = REPORT.model_copy(
        update={"attributes": {"position": "carriageway", "depth": "12"}, "media_urls": ("u",)}
    )
    assert fingerprint(reordered) == fingerprint(REPORT)
    for change in (
        {"email": "bob@example.org"},
        {"description": "Deep hole!"},
        {"location": Location(lat=51.5073, long=-0.1276)},
        {"attributes": {"depth": "13", "position": "carriageway"}},
        {"service_code": "SL"},
    ):
        assert fingerprint(REPORT.model_copy(update=change)) != fingerprint(REPORT), change


@given(st.text(max_size=40), st.text(max_size=40))
def test_different_descriptions_have_different_fingerprints(first: str, second: str) -> None:
    one = REPORT.model_copy(update={"description": first})
    other = REPORT.model_copy(update={"description": second})
    assert (fingerprint(one) == fingerprint(other)) == (first == second)


def test_each_generation_of_the_same_content_has_its_own_key() -> None:
    digest = fingerprint(REPORT)
    first = fingerprint_key(digest, None)
    assert first == f"fingerprint:{digest}"
    assert fingerprint_key(digest, "job-1") != first
    assert fingerprint_key(digest, "job-1") == fingerprint_key(digest, "job-1")
    assert fingerprint_key(digest, "job-1") != fingerprint_key(digest, "job-2")
