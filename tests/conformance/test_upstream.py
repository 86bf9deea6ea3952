"""The conformance kit on the open311 connector, in JSON and XML, against a second
gateway on loopback (the embedded default) reached through a fault proxy, with the
federation mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultProxy

from connectors.base import Record
from connectors.testing.conformance import ConnectorConformance
from connectors.testing.described import ConnectorUnderTest

from gateways import FEDERATION, UPSTREAM_KEY, upstream_gateway
from proxy_faults import network_outage, network_stall
from sql_backends import REQUESTS

pytest_plugins = ["connectors.testing.plugin"]


def _off_the_map(payload: Record) -> Record:
    """A payload the upstream answers with a 400: a latitude that is not a number."""
    return {**payload, "lat": "north"}


class TestUpstreamOpen311(ConnectorConformance):
    @pytest.fixture(params=["json", "xml"])
    async def connector_under_test(
        self,
        request: pytest.FixtureRequest,
        aiohttp_client: Any,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> AsyncIterator[ConnectorUnderTest]:
        url, _ = await upstream_gateway(aiohttp_client, tmp_path / "upstream", monkeypatch)
        async with FaultProxy.before(url) as proxy:
            yield ConnectorUnderTest(
                connector="open311",
                settings={
                    "endpoint": proxy.url(url),
                    "format": request.param,
                    "api_key": UPSTREAM_KEY,
                },
                mapping=FEDERATION,
                requests=REQUESTS,
                refuse=_off_the_map,
                outage=network_outage(proxy),
                stall=network_stall(proxy),
            )
