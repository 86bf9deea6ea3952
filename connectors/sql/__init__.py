"""The SQL connector: legacy ticketing databases through SQLAlchemy Core (asyncio)."""

from connectors.sql.connector import SqlConnector

__all__ = ["SqlConnector"]
