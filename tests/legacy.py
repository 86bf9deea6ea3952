"""The legacy ticketing schema of mappings/examples/legacy-tickets.yaml, on each database.

A test gets a throwaway database holding the schema either as its back office made it
(the DDL in tests/data/legacy/, with constraints, defaults and columns the mapping
never names) or as the connector's `create_schema` makes it from the mapping; reads or
changes it behind the connector's back with `sql`; and runs a gateway serving it
through the Open311 requests clients send (`open311_round_trip`).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from lxml import etree
from sqlalchemy import NullPool, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from connectors.sql import SqlConnector
from connectors.sql.database import ASYNC_DRIVERS
from gateway.mapping import CompiledMapping, load_mapping
from mappings import mapping_path

from delivery import drained
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


async def request_id(client: TestClient, response: ClientResponse) -> str:
    """The id a POST answered with, or the one its token resolves to once delivered."""
    body = await response.text()
    assert response.status == 200, body
    [receipt] = json.loads(body)
    if "service_request_id" in receipt:
        return str(receipt["service_request_id"])
    await drained(client.server.runtime)
    [resolved] = await (await client.get(f"/tokens/{receipt['token']}.json")).json()
    return str(resolved["service_request_id"])


async def open311_round_trip(client: TestClient, url: str, api_key: str) -> None:
    """A gateway serving the legacy mapping on the database at `url`, as clients use it:
    POST requests, GET them by id and by every filter, in both formats, citizens'
    updates posted and read back; and in the back office's own tables, the codes."""
    pothole = [
        ("api_key", api_key),
        ("service_code", "POT"),
        ("lat", "51.507200"),
        ("long", "-0.127600"),
        ("address_string", "1 High Street"),
        ("attribute[depth]", "12"),
        ("attribute[position]", "junction"),
        ("description", "Deep hole by the bus stop"),
        ("email", "alice@example.org"),
        ("first_name", "Alice"),
        ("phone", "+44 20 7946 0000"),
    ]
    pot = await request_id(client, await client.post("/requests.json", data=pothole))
    graffiti = [("api_key", api_key), ("service_code", "GRAF"), ("lat", "51.5"), ("long", "0.1")]
    graf = await request_id(client, await client.post("/requests.json", data=graffiti))

    [request] = await (await client.get(f"/requests/{pot}.json")).json()
    assert (request["service_code"], request["service_name"]) == ("POT", "Pothole")
    assert (request["status"], request["agency_responsible"]) == ("open", "Highways")
    assert (request["lat"], request["long"], request["address"]) == (
        51.5072,
        -0.1276,
        "1 High Street",
    )
    xml = etree.fromstring(await (await client.get(f"/requests/{pot}.xml")).read())
    assert (
        xml.findtext("request/service_code") == "POT" and xml.findtext("request/status") == "open"
    )
    [ticket] = await sql(
        url, "SELECT stat_cd, cat_cd, prio_cd, src_cd FROM tkt_main WHERE tkt_id = :id", id=int(pot)
    )
    assert tuple(ticket) == (10, 110, 1, "O311")
    [contact] = await sql(
        url, "SELECT first_nm, email_addr, phone FROM tkt_contact WHERE tkt_id = :id", id=int(pot)
    )
    assert tuple(contact) == ("Alice", "alice@example.org", "+44 20 7946 0000")

    async def found(query: str) -> list[str]:
        response = await client.get(f"/requests.json?{query}")
        assert response.status == 200, await response.text()
        return [request["service_request_id"] for request in await response.json()]

    assert await found("") == [graf, pot]
    assert await found("service_code=GRAF") == [graf]
    assert await found(f"service_request_id={pot}") == [pot]
    assert await found("status=closed") == []

    update = {
        "api_key": api_key,
        "service_request_id": pot,
        "update_id": "fms-1",
        "status": "FIXED",
        "updated_datetime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "description": "Filled this morning",
    }
    posted = await client.post("/servicerequestupdates.json", data=update)
    assert posted.status == 200, await posted.text()
    [stored] = await posted.json()
    assert (stored["status"], stored["service_request_id"]) == ("fixed", pot)
    assert await found("status=closed") == [pot]
    assert await found("status=open&service_code=POT,GRAF") == [graf]
    assert await sql(url, "SELECT stat_cd FROM tkt_main WHERE tkt_id = :id", id=int(pot)) == [(80,)]

    updates = await (await client.get("/servicerequestupdates.json")).json()
    by_request = sorted((u["service_request_id"], u["status"]) for u in updates)
    assert by_request == sorted([(pot, "open"), (graf, "open"), (pot, "fixed")])
    assert stored["update_id"] in {u["update_id"] for u in updates}
    again = await (await client.get("/servicerequestupdates.json")).json()
    assert [u["update_id"] for u in again] == [u["update_id"] for u in updates]
