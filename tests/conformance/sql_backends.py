"""The SQL connector with the embedded default's mapping, described for the conformance
kit, and the faults its databases can really have."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import asyncmy
import asyncpg
from sqlalchemy.engine import make_url

from connectors.base import Record
from connectors.testing.described import HEALTH, OPERATIONS, ConnectorUnderTest, Fault
from gateway.open311.models import Location, NewServiceRequest
from mappings import mapping_path

REQUESTS = (
    NewServiceRequest(
        service_code="POT",
        location=Location(lat=51.5072, long=-0.1276),
        attributes={"depth": "8", "position": "junction"},
        description="Deep hole at the junction",
        email="resident@example.org",
        first_name="Ada",
        last_name="Example",
        phone="+44 20 7946 0000",
    ),
    NewServiceRequest(
        service_code="DOG",
        location=Location(address_string="Footpath by the park gate"),
        description="Dog mess on the footpath",
    ),
    NewServiceRequest(
        service_code="FLY",
        location=Location(lat=51.51, long=-0.11),
        attributes={"waste_types": ("tyres", "hazardous"), "amount": "car_boot"},
        device_id="device-0001",
    ),
)
"""One request each to a service with attributes, one without, and a multivaluelist."""


def _word_for_a_number(payload: Record) -> Record:
    """A payload the database refuses: a word in the float column of the latitude."""
    return {**payload, "latitude": "north"}


def embedded_sql(url: str, *, outage: Fault | None, stall: Fault | None) -> ConnectorUnderTest:
    return ConnectorUnderTest(
        connector="sql",
        settings={"url": url, "create_schema": True},
        mapping=mapping_path("embedded.yaml"),
        requests=REQUESTS,
        refuse=_word_for_a_number,
        outage=outage,
        stall=stall,
    )


@asynccontextmanager
async def _write_locked(database: Path) -> AsyncIterator[None]:
    holder = await asyncio.to_thread(_take_write_lock, database)
    try:
        yield
    finally:
        await asyncio.to_thread(_release, holder)


def _take_write_lock(database: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def _release(holder: sqlite3.Connection) -> None:
    holder.execute("ROLLBACK")
    holder.close()


def sqlite_write_lock(database: Path) -> Fault:
    """Another connection holds the database's write lock: SQLite's only way to be
    unavailable, and its stall, as writers wait for the lock up to their timeout."""
    return Fault(
        during=partial(_write_locked, database),
        reaches=("create", "post_update"),
        unreached_because="SQLite readers never wait for a writer's lock (WAL mode)",
    )


@asynccontextmanager
async def _postgres_tables_locked(url: str, tables: tuple[str, ...]) -> AsyncIterator[None]:
    holder = await asyncpg.connect(url, timeout=10)
    try:
        async with holder.transaction():
            await holder.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await holder.close()


@asynccontextmanager
async def _mariadb_tables_locked(url: str, tables: tuple[str, ...]) -> AsyncIterator[None]:
    server = make_url(url)
    holder = await asyncmy.connect(
        host=server.host or "127.0.0.1",
        port=server.port or 3306,
        user=server.username or "root",
        password=server.password or "",
        database=server.database,
        autocommit=True,
        connect_timeout=10,
    )
    try:
        async with holder.cursor() as cursor:
            await cursor.execute("LOCK TABLES " + ", ".join(f"{t} WRITE" for t in tables))
        try:
            yield
        finally:
            async with holder.cursor() as cursor:
                await cursor.execute("UNLOCK TABLES")
    finally:
        await holder.ensure_closed()


_TABLES_LOCKED = {"postgresql": _postgres_tables_locked, "mariadb": _mariadb_tables_locked}


def tables_locked(url: str, dialect: str) -> Fault:
    """Another session holds the embedded schema's tables locked: every statement on them
    waits, as on a database busy with a long migration. `url` reaches it directly."""
    return Fault(
        during=partial(_TABLES_LOCKED[dialect], url, ("tickets", "ticket_history")),
        reaches=tuple(operation for operation in OPERATIONS if operation != HEALTH),
        unreached_because="health reads no table",
    )
