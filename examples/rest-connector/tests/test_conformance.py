"""The gateway's conformance kit on the example connector, against the simulated API,
through the example's own mapping: what an author runs on a connector of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from open311_rest_connector import RestConnector

from connectors.testing.conformance import ConnectorConformance
from connectors.testing.described import ConnectorUnderTest, Fault
from gateway.open311.models import Location, NewServiceRequest

from rest_simulator import TOKEN, RestSimulator

pytest_plugins = ["connectors.testing.plugin"]

MAPPING = Path(__file__).resolve().parents[1] / "city.yaml"
REQUESTS = (
    NewServiceRequest(
        service_code="POT",
        location=Location(lat=51.5072, long=-0.1276),
        description="Deep hole by the bus stop",
        email="resident@example.org",
    ),
    NewServiceRequest(service_code="GRAF", location=Location(address_string="1 High Street")),
)


def down(simulator: RestSimulator) -> Fault:
    """Every call answered 503, as while the desk is under maintenance."""

    @asynccontextmanager
    async def during() -> AsyncIterator[None]:
        simulator.failure = 503
        try:
            yield
        finally:
            simulator.failure = None

    return Fault(during=during)


def frozen(simulator: RestSimulator) -> Fault:
    """Calls taken and never answered."""

    @asynccontextmanager
    async def during() -> AsyncIterator[None]:
        simulator.stalled = True
        try:
            yield
        finally:
            simulator.stalled = False

    return Fault(during=during)


class TestRestConnector(ConnectorConformance):
    @pytest.fixture
    async def connector_under_test(self) -> AsyncIterator[ConnectorUnderTest]:
        async with RestSimulator() as simulator:
            yield ConnectorUnderTest(
                connector=RestConnector,
                settings={"url": simulator.url, "token": TOKEN},
                mapping=MAPPING,
                requests=REQUESTS,
                refuse=lambda payload: {**payload, "category": "NOT-A-CATEGORY"},
                outage=down(simulator),
                stall=frozen(simulator),
            )
