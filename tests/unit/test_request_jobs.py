"""A new request as a queue job: the payload queued is the one workers read back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.open311.models import Location, NewServiceRequest
from gateway.request_jobs import new_request_job, request_of

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

FULL = NewServiceRequest(
    service_code="POT",
    location=Location(lat=51.5, long=-0.1, address_string="1 High St", address_id="A1"),
    attributes={"depth": "12", "kinds": ("road", "path")},
    description="A pothole ✓",
    email="someone@example.org",
    device_id="device",
    account_id="account",
    first_name="Ann",
    last_name="Lee",
    phone="0123",
    media_urls=("https://example.org/1.jpg",),
)
BARE = NewServiceRequest(service_code="POT", location=Location(address_string="1 High St"))


@pytest.mark.parametrize("request_", [FULL, BARE], ids=["every field", "defaults"])
def test_a_jobs_payload_reads_back_as_the_request(request_: NewServiceRequest) -> None:
    job = new_request_job("city", request_, "header:k", reply_to=None, now=NOW)
    assert request_of(job) == request_


@pytest.mark.parametrize("request_", [FULL, BARE], ids=["every field", "defaults"])
def test_a_jobs_payload_is_the_models_json_without_defaults(request_: NewServiceRequest) -> None:
    """Jobs queued by earlier versions hold this JSON: the format must not drift."""
    job = new_request_job("city", request_, "header:k", reply_to=None, now=NOW)
    assert job.payload == request_.model_dump_json(exclude_defaults=True).encode()
