"""The conformance kit on the SQL connector over PostgreSQL and MariaDB, with the
embedded default's mapping, each database reached through a fault proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from faultproxy import FaultProxy

from connectors.testing.conformance import ConnectorConformance
from connectors.testing.described import ConnectorUnderTest

from proxy_faults import network_outage
from services import mariadb_database, postgres_database
from sql_backends import embedded_sql, tables_locked

pytest_plugins = ["connectors.testing.plugin"]

DATABASES = {"postgresql": postgres_database, "mariadb": mariadb_database}


class TestSqlOnDatabaseServers(ConnectorConformance):
    @pytest.fixture(params=sorted(DATABASES))
    async def connector_under_test(
        self, request: pytest.FixtureRequest
    ) -> AsyncIterator[ConnectorUnderTest]:
        async with DATABASES[request.param]() as url, FaultProxy.before(url) as proxy:
            outage, stall = network_outage(proxy), tables_locked(url, request.param)
            yield embedded_sql(proxy.url(url), outage=outage, stall=stall)
