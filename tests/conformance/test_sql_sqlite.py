"""The conformance kit on the SQL connector over SQLite, with the embedded default's mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.testing.conformance import ConnectorConformance
from connectors.testing.described import ConnectorUnderTest

from sql_backends import embedded_sql, sqlite_write_lock

pytest_plugins = ["connectors.testing.plugin"]


class TestSqlOnSqlite(ConnectorConformance):
    @pytest.fixture
    def connector_under_test(self, tmp_path: Path) -> ConnectorUnderTest:
        database = tmp_path / "tickets.db"
        locked = sqlite_write_lock(database)
        return embedded_sql(f"sqlite:///{database}", outage=locked, stall=locked)
