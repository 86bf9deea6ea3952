"""The conformance kit on the SQL connector over PostgreSQL, with the embedded default's mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from faultproxy import FaultProxy

from connectors.testing.conformance import ConnectorConformance
from connectors.testing.described import ConnectorUnderTest

from services import postgres_database
from sql_backends import embedded_sql, network_outage, postgres_tables_locked

pytest_plugins = ["connectors.testing.plugin"]


class TestSqlOnPostgres(ConnectorConformance):
    @pytest.fixture
    async def connector_under_test(self) -> AsyncIterator[ConnectorUnderTest]:
        async with postgres_database() as url:
            proxy = FaultProxy.before(url)
            await proxy.start()
            try:
                outage, stall = network_outage(proxy), postgres_tables_locked(url)
                yield embedded_sql(proxy.url(url), outage=outage, stall=stall)
            finally:
                await proxy.close()
