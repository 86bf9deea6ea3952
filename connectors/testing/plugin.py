"""The conformance kit as a pytest plugin.

Enable it with `pytest_plugins = ["connectors.testing.plugin"]` (in the test module
that runs the kit, or in the root conftest.py), then subclass
`connectors.testing.conformance.ConnectorConformance` and give it a fixture
`connector_under_test` that returns a `ConnectorUnderTest` on a fresh backend.
See connectors/testing/README.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from connectors.testing.described import ConnectorUnderTest
from connectors.testing.harness import Kit


@pytest.fixture
def connector_under_test() -> ConnectorUnderTest:
    """Overridden by the connector's author; this one only says so."""
    pytest.fail(
        "the conformance kit needs a fixture `connector_under_test` returning a "
        "connectors.testing.described.ConnectorUnderTest (see connectors/testing/README.md)",
        pytrace=False,
    )


@pytest_asyncio.fixture
async def connector_kit(connector_under_test: ConnectorUnderTest) -> AsyncIterator[Kit]:
    """The connector under test, started on its fresh backend, with its mapping."""
    async with Kit.opened(connector_under_test) as kit:
        yield kit
