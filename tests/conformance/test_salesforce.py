"""The conformance kit on the Salesforce connector, against the simulator over TLS
reached through a fault proxy, with the example mapping (Example City on Cases)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from faultproxy import FaultProxy

from connectors.base import Record
from connectors.testing.conformance import ConnectorConformance
from connectors.testing.described import ConnectorUnderTest
from connectors.testing.salesforce import running_salesforce
from gateway.open311.models import Location, NewServiceRequest

from proxy_faults import network_outage, network_stall
from salesforce_backend import MAPPING, settings

pytest_plugins = ["connectors.testing.plugin"]

REQUESTS = (
    NewServiceRequest(
        service_code="Pothole",
        location=Location(lat=51.5072, long=-0.1276, address_string="1 High Street"),
        attributes={"depth": "8", "position": "road"},
        description="Pothole by the school gate",
        email="reporter@example.city",
        first_name="Grace",
        last_name="Hopper",
    ),
    NewServiceRequest(
        service_code="Graffiti",
        location=Location(address_string="Bus shelter, Mill Lane"),
        description="Tags on the shelter",
    ),
    NewServiceRequest(
        service_code="Streetlight",
        location=Location(lat=51.51, long=-0.11),
        attributes={"pole": "L-0042"},
        device_id="device-0001",
    ),
)
"""One request each to a service with a list attribute, one without, and one with text."""


def _unknown_type(payload: Record) -> Record:
    """A payload Salesforce refuses: a Type its restricted picklist does not list."""
    return {**payload, "Type": "Volcano"}


class TestSalesforce(ConnectorConformance):
    @pytest.fixture
    async def connector_under_test(self) -> AsyncIterator[ConnectorUnderTest]:
        with running_salesforce() as salesforce:
            async with FaultProxy.before(salesforce.url) as proxy:
                url = proxy.url(salesforce.url)
                salesforce.simulator.instance_url = url  # tokens send the connector there too
                yield ConnectorUnderTest(
                    connector="salesforce",
                    settings=settings(salesforce, instance_url=url),
                    mapping=MAPPING,
                    requests=REQUESTS,
                    refuse=_unknown_type,
                    outage=network_outage(proxy),
                    stall=network_stall(proxy),
                )
