"""Creating the backend's tables when they are absent (`create_schema`).

A gateway and its workers may start together on one database: each takes a lock of the
database's own first, so the tables are created once and the others find them. A
lookup table created here gets the rows the mapping lists for it.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

from connectors.base import TransientError
from connectors.sql.columns import MYSQL_FAMILY
from connectors.sql.tables import Tables

POSTGRES_LOCK = 0x311_7AB1E
"""The PostgreSQL advisory lock that serialises creating the backend's tables."""
MYSQL_LOCK = "CONCAT('open311_schema_', MD5(DATABASE()))"
"""The MySQL/MariaDB named lock for the same, one per database (names are server-wide)."""


def create_schema(connection: Connection, tables: Tables, *, lock_seconds: float) -> None:
    """The missing tables, in the caller's transaction where the database allows DDL in
    one (MySQL commits each CREATE by itself: its lock is the session's, released here)."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # sqlite3 begins only at the first DML
    elif dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_LOCK})
    elif dialect in MYSQL_FAMILY:
        taken = connection.execute(
            text(f"SELECT GET_LOCK({MYSQL_LOCK}, :seconds)"), {"seconds": lock_seconds}
        ).scalar()
        if taken != 1:
            raise TransientError("another process held the schema lock for too long")
        try:
            _create_missing(connection, tables)
        finally:
            connection.execute(text(f"SELECT RELEASE_LOCK({MYSQL_LOCK})"))
        return
    _create_missing(connection, tables)


def _create_missing(connection: Connection, tables: Tables) -> None:
    existing = set(inspect(connection).get_table_names())
    tables.metadata.create_all(connection)
    for name, lookup in tables.lookups.items():
        rows = tables.schema.lookups[name].rows
        if lookup.name not in existing and rows:
            columns = lookup.c.keys()
            connection.execute(lookup.insert(), [{c: row.get(c) for c in columns} for row in rows])
