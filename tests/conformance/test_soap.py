"""The conformance kit on the soap connector, over SOAP 1.1 (basic auth) and SOAP 1.2
(a digest UsernameToken), against the CaseWorks simulator, with Millbrook's mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Any

import pytest

from connectors.base import Record
from connectors.testing.conformance import ConnectorConformance
from connectors.testing.described import HEALTH, OPERATIONS, ConnectorUnderTest, Fault
from connectors.testing.soap_crm import SoapCrm
from gateway.open311.models import Location, NewServiceRequest

from soapcrm import MILLBROOK, soap_settings

pytest_plugins = ["connectors.testing.plugin"]

STALL_SECONDS = 3600.0
"""Longer than any check waits: a call in a stall is answered only when the test ends."""

REQUESTS = (
    NewServiceRequest(
        service_code="RD-POT",
        location=Location(lat=51.5072, long=-0.1276, address_string="1 Mill Lane"),
        attributes={"depth": "8"},
        description="Deep hole by the bus stop",
        email="resident@example.org",
        first_name="Ada",
        last_name="Example",
    ),
    NewServiceRequest(
        service_code="RD-LGT",
        location=Location(lat=51.51, long=-0.12),
        attributes={"fault": "dark"},
    ),
    NewServiceRequest(
        service_code="EN-FLY",
        location=Location(address_string="Footpath by the river"),
        attributes={"waste": ("household", "hazardous")},
    ),
    NewServiceRequest(
        service_code="PK-TRE", location=Location(lat=51.5, long=-0.1), description="Branch down"
    ),
)


def _unknown_case_type(payload: Record) -> Record:
    """A case the CRM refuses with a validation fault: a case type it does not have."""
    return {**payload, "CaseTypeCode": "XX-NONE"}


@asynccontextmanager
async def _turned(crm: SoapCrm, knob: str, value: object) -> AsyncIterator[None]:
    before = getattr(crm, knob)
    setattr(crm, knob, value)
    try:
        yield
    finally:
        setattr(crm, knob, before)


def knob(crm: SoapCrm, name: str, value: object, **reach: Any) -> Fault:
    during: Callable[[], AbstractAsyncContextManager[None]] = partial(_turned, crm, name, value)
    return Fault(during=during, **reach)


class TestSoapOnCaseWorks(ConnectorConformance):
    @pytest.fixture(params=["1.1", "1.2"])
    async def connector_under_test(
        self, request: pytest.FixtureRequest
    ) -> AsyncIterator[ConnectorUnderTest]:
        async with SoapCrm() as crm:
            yield ConnectorUnderTest(
                connector="soap",
                settings=soap_settings(crm, request.param),
                mapping=MILLBROOK,
                requests=REQUESTS,
                refuse=_unknown_case_type,
                outage=knob(crm, "outage", True),
                stall=knob(
                    crm,
                    "latency",
                    STALL_SECONDS,
                    reaches=tuple(operation for operation in OPERATIONS if operation != HEALTH),
                    unreached_because="the latency knob holds SOAP calls; health is an HTTP GET",
                ),
            )
