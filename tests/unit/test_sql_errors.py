"""Database failures as the SQL connector's typed errors."""

from __future__ import annotations

import pytest

from connectors.base import TransientError
from connectors.sql.errors import database_call


async def test_a_connection_the_driver_cannot_open_is_transient() -> None:
    """asyncpg raises socket errors unwrapped when it connects: a database that is down."""
    with pytest.raises(TransientError, match="unreachable: ConnectionRefusedError"):
        async with database_call(1):
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
    with pytest.raises(TransientError, match="did not answer within 1 s"):
        async with database_call(1):
            raise TimeoutError
