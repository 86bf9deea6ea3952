"""The legacy ticketing schema of mappings/examples/legacy-tickets.yaml, on each database.

A test gets a throwaway database holding the schema either as its back office made it
(the DDL in tests/data/legacy/, with constraints, defaults and columns the mapping
never names) or as the connector's `create_schema` makes it from the mapping; and
reads or changes it behind the connector's back with `sql`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

from sqlalchemy import NullPool, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from connectors.sql import SqlConnector
from connectors.sql.database import ASYNC_DRIVERS
from gateway.mapping import CompiledMapping, load_mapping
from mappings import mapping_path

from services import mariadb_database, postgres_database

LEGACY_MAPPING = mapping_path("examples/legacy-tickets.yaml")
DDL = Path(__file__).resolve().parent / "data" / "legacy"
DIALECTS = ("sqlite", "postgresql", "mariadb")
SERVERS = {"postgresql": postgres_database, "mariadb": mariadb_database}
FIRST_SEQUENCED_ID = 50001
"""Where the DDL's ticket sequence starts (PostgreSQL, MariaDB)."""


def legacy_mapping() -> CompiledMapping:
    return load_mapping(LEGACY_MAPPING)


@asynccontextmanager
async def database(dialect: str, folder: Path) -> AsyncIterator[str]:
    """An empty throwaway database of `dialect`; its URL."""
    if dialect == "sqlite":
        yield f"sqlite:///{folder / 'legacy.db'}"
        return
    async with SERVERS[dialect]() as url:
        yield url


@asynccontextmanager
async def legacy_database(dialect: str, folder: Path) -> AsyncIterator[str]:
    """A throwaway database holding the back office's own legacy schema; its URL."""
    async with database(dialect, folder) as url:
        script = (DDL / f"{dialect}.sql").read_text(encoding="utf-8")
        for statement in filter(None, (part.strip() for part in script.split(";\n"))):
            await sql(url, statement)
        yield url


async def sql(url: str, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    """Run one statement on its own connection, committed; the rows it returns."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return await asyncio.to_thread(_sqlite, str(parsed.database), statement, params)
    driver = ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername)
    engine = create_async_engine(parsed.set(drivername=driver), poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


def _sqlite(file: str, statement: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(file)) as connection, connection:
        return connection.execute(statement, params).fetchall()


async def count(url: str, table: str) -> int:
    [(rows,)] = await sql(url, f"SELECT COUNT(*) FROM {table}")
    return int(rows)


@asynccontextmanager
async def started(
    url: str, *, call_timeout: float = 5.0, **settings: Any
) -> AsyncIterator[SqlConnector]:
    backend = legacy_mapping().backend
    connector = SqlConnector({"url": url, **settings}, backend, timeout=call_timeout)
    await connector.start()
    try:
        yield connector
    finally:
        await connector.close()
