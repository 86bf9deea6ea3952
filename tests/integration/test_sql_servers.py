"""The SQL connector against database servers misbehaving, on PostgreSQL and MariaDB: a
table locked by the back office, connections dropped under it, a pool it must not
outgrow, and each server's own ways of refusing a statement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import NullPool, text
from sqlalchemy.dialects.mysql.base import MySQLDialect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from connectors.base import PermanentError, TransientError
from connectors.sql.database import ASYNC_DRIVERS, open_database
from connectors.sql.errors import connector_error
from gateway.mapping import CompiledMapping, MappingContext
from gateway.open311.models import Location, NewServiceRequest

from legacy import count, legacy_database, legacy_mapping, sql, started

SERVER_DIALECTS = ("postgresql", "mariadb")
PATIENCE_SECONDS = 30.0
"""Far above anything here: reaching it means a call is stuck, not slow."""


@pytest.fixture(scope="module")
def mapping() -> CompiledMapping:
    return legacy_mapping()


def payload(mapping: CompiledMapping, key: str) -> dict[str, Any]:
    report = NewServiceRequest(
        service_code="GRAF",
        location=Location(lat=51.5, long=-0.125),
        email="resident@example.org",
    )
    now = datetime.now(UTC).replace(microsecond=0)
    return mapping.create_payload(report, MappingContext("legacy", key, now))


@asynccontextmanager
async def connection(url: str) -> AsyncIterator[AsyncConnection]:
    """A connection of the test's own, beside the connector's."""
    parsed = make_url(url)
    driver = ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername)
    engine = create_async_engine(parsed.set(drivername=driver), poolclass=NullPool)
    try:
        async with engine.connect() as opened:
            yield opened
    finally:
        await engine.dispose()


@asynccontextmanager
async def locked(url: str, dialect: str) -> AsyncIterator[None]:
    """The back office holds tkt_main locked: nothing reads or writes it meanwhile."""
    async with connection(url) as holder:
        if dialect == "postgresql":
            await holder.execute(text("LOCK TABLE tkt_main IN ACCESS EXCLUSIVE MODE"))
            try:
                yield
            finally:
                await holder.rollback()
        else:
            await holder.execute(text("LOCK TABLES tkt_main WRITE"))
            try:
                yield
            finally:
                await holder.execute(text("UNLOCK TABLES"))


SESSIONS = {
    "postgresql": (
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE wait_event_type = 'Lock') FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ),
    "mariadb": (
        "SELECT COUNT(*), COALESCE(SUM(state LIKE 'Waiting for table%'), 0)"
        " FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()"
    ),
}


async def sessions(url: str, dialect: str) -> tuple[int, int]:
    """Other sessions on the database, and how many of them wait for a lock."""
    [(total, waiting)] = await sql(url, SESSIONS[dialect])
    return int(total), int(waiting)


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE_SECONDS
    while not await check():
        assert loop.time() < deadline, "the database never got there"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("dialect", SERVER_DIALECTS)
async def test_calls_held_up_by_a_lock_time_out(
    dialect: str, tmp_path: Path, mapping: CompiledMapping
) -> None:
    async with (
        legacy_database(dialect, tmp_path) as url,
        started(url, call_timeout=0.5) as connector,
    ):
        before = await connector.create(payload(mapping, "before"), "before")
        ticket_id = str(before["tkt_id"])
        async with locked(url, dialect):
            with pytest.raises(TransientError, match=r"did not answer within 0\.5 s"):
                await connector.get([ticket_id])
            with pytest.raises(TransientError, match=r"did not answer within 0\.5 s"):
                await connector.create(payload(mapping, "during"), "during")
            with pytest.raises(TransientError, match=r"did not answer within 0\.5 s"):
                await connector.post_update({"tkt_id": ticket_id, "changed_by": "STAFF"})

            async def given_up_by_the_server() -> bool:
                return (await sessions(url, dialect))[1] == 0

            await until(given_up_by_the_server)  # while the lock is still held
        during = await connector.create(payload(mapping, "during"), "during")
        assert await connector.find_by_reference("during") == during
        assert await connector.get([ticket_id]) == [before]
        assert await count(url, "tkt_main") == 2
        assert await count(url, "tkt_history") == 2


@pytest.mark.parametrize("pool_size", [1, 2])
@pytest.mark.parametrize("dialect", SERVER_DIALECTS)
async def test_pool_size_caps_the_connections(
    dialect: str, pool_size: int, tmp_path: Path, mapping: CompiledMapping
) -> None:
    """Reads held up by a lock: only `pool_size` of them reach the server, the others
    wait for a connection, and all finish once the lock goes."""
    async with (
        legacy_database(dialect, tmp_path) as url,
        started(url, pool_size=pool_size, call_timeout=PATIENCE_SECONDS) as connector,
    ):
        stored = await connector.create(payload(mapping, "key-1"), "key-1")
        async with locked(url, dialect):
            reads = [asyncio.create_task(connector.get([str(stored["tkt_id"])])) for _ in range(4)]

            async def all_connections_blocked() -> bool:
                return (await sessions(url, dialect))[1] >= pool_size

            await until(all_connections_blocked)
            total, waiting = await sessions(url, dialect)
            assert (total - 1, waiting) == (pool_size, pool_size)  # less the lock's holder
            assert not any(read.done() for read in reads)
        assert await asyncio.gather(*reads) == [[stored]] * 4


KILL = {
    "postgresql": (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ),
    "mariadb": (
        "SELECT id FROM information_schema.processlist"
        " WHERE db = DATABASE() AND id <> CONNECTION_ID()"
    ),
}


async def drop_connections(url: str, dialect: str) -> None:
    """The server drops every connection to the database (a restart, a failover)."""
    rows = await sql(url, KILL[dialect])
    if dialect == "mariadb":
        for (session,) in rows:
            await sql(url, f"KILL CONNECTION {int(session)}")


@pytest.mark.parametrize("dialect", SERVER_DIALECTS)
async def test_a_dropped_connection_is_a_transient_error(
    dialect: str, tmp_path: Path, mapping: CompiledMapping
) -> None:
    async with legacy_database(dialect, tmp_path) as url, started(url) as connector:
        stored = await connector.create(payload(mapping, "key-1"), "key-1")
        await drop_connections(url, dialect)
        with pytest.raises(TransientError, match="the database failed"):
            await connector.get([str(stored["tkt_id"])])
        assert await connector.get([str(stored["tkt_id"])]) == [stored]
        await drop_connections(url, dialect)
        with pytest.raises(TransientError, match="the database failed"):
            await connector.create(payload(mapping, "key-2"), "key-2")
        second = await connector.create(payload(mapping, "key-2"), "key-2")
        assert await connector.find_by_reference("key-2") == second


async def test_without_insert_returning_tickets_go_in_one_by_one(
    tmp_path: Path, mapping: CompiledMapping, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MySQL returns no rows from an INSERT: MariaDB made to behave like it."""
    initialize = MySQLDialect.initialize

    def like_mysql(dialect: MySQLDialect, connection: Connection) -> None:
        initialize(dialect, connection)
        dialect.insert_returning = False

    monkeypatch.setattr(MySQLDialect, "initialize", like_mysql)
    async with legacy_database("mariadb", tmp_path) as url, started(url) as connector:
        creates = [connector.create(payload(mapping, f"key-{i}"), f"key-{i}") for i in range(6)]
        stored = await asyncio.gather(
            *creates, connector.create(payload(mapping, "key-0"), "key-0")
        )
        assert [row["ext_ref"] for row in stored] == [*(f"key-{i}" for i in range(6)), "key-0"]
        assert stored[-1] == stored[0]
        assert all(row["contact"]["tkt_id"] == row["tkt_id"] for row in stored)
        assert all(row["category"]["cat_abbr"] == "CL-GRAF" for row in stored)
        change = await connector.post_update({"tkt_id": stored[0]["tkt_id"], "changed_by": "STAFF"})
        assert change["hist_id"] > 0 and change["ticket"] == stored[0]
        for table in ("tkt_main", "tkt_contact"):
            assert await count(url, table) == 6
        assert await count(url, "tkt_history") == 7


REFUSALS = [
    pytest.param(
        "INSERT INTO tkt_category (cat_cd, cat_abbr, cat_name) VALUES (1, 'RD-POT', 'x')",
        "refused the change",
        id="duplicate key",
    ),
    pytest.param(
        "INSERT INTO tkt_contact (tkt_id, email_addr) VALUES (1, 'secret-value')",
        "refused the change",
        id="check or foreign key",
    ),
    pytest.param(
        "INSERT INTO tkt_category (cat_cd, cat_name) VALUES (2, 'x')",
        "refused the change",
        id="not null",
    ),
    pytest.param(
        "UPDATE tkt_category SET cat_abbr = 'secret-value-much-too-long' WHERE cat_cd = 110",
        "refused a value that does not fit",
        id="too long",
    ),
    pytest.param(
        "UPDATE tkt_category SET cat_cd = 'secret-value' WHERE cat_cd = 110",
        "refused a value that does not fit",
        id="not a number",
    ),
    pytest.param(
        "UPDATE tkt_category SET colour = 'secret-value' WHERE cat_cd = 110",
        "refused the change",
        id="unknown column",
    ),
]


async def database_error(url: str, statement: str, *setup: str) -> SQLAlchemyError:
    async with connection(url) as opened:
        for step in setup:
            await opened.execute(text(step))
        with pytest.raises(SQLAlchemyError) as caught:
            await opened.execute(text(statement))
    return caught.value


@pytest.mark.parametrize(("statement", "message"), REFUSALS)
@pytest.mark.parametrize("dialect", SERVER_DIALECTS)
async def test_refusals_are_permanent_and_keep_values_out(
    dialect: str, statement: str, message: str, tmp_path: Path
) -> None:
    """Each server's own refusal, as its driver raises it: whatever the exception class,
    the connector calls it the payload's fault, and quotes no value."""
    async with legacy_database(dialect, tmp_path) as url:
        error = connector_error(await database_error(url, statement))
    assert isinstance(error, PermanentError), error
    assert message in error.reason
    assert "secret-value" not in error.reason and "RD-POT" not in error.reason


LOCK_WAIT = {
    "postgresql": ("SET lock_timeout = '50ms'",),
    "mariadb": ("SET SESSION innodb_lock_wait_timeout = 1",),
}


@pytest.mark.parametrize("dialect", SERVER_DIALECTS)
async def test_a_lock_wait_the_server_gives_up_is_transient(dialect: str, tmp_path: Path) -> None:
    async with legacy_database(dialect, tmp_path) as url, connection(url) as holder:
        await holder.execute(text("UPDATE tkt_category SET cat_name = 'x' WHERE cat_cd = 110"))
        update = "UPDATE tkt_category SET cat_name = 'y' WHERE cat_cd = 110"
        error = connector_error(await database_error(url, update, *LOCK_WAIT[dialect]))
        await holder.rollback()
    assert isinstance(error, TransientError), error


SLEEP = {"postgresql": "SELECT pg_sleep(5)", "mariadb": "SELECT SLEEP(5)"}


@pytest.mark.parametrize("dialect", SERVER_DIALECTS)
async def test_the_server_gives_up_a_statement_past_the_timeout(
    dialect: str, tmp_path: Path
) -> None:
    """Even when the client cannot stop it (its cancel lost with the network), a
    statement ends on the server once it outlasts the connector's timeout."""
    async with legacy_database(dialect, tmp_path) as url:
        database = open_database(url, timeout=0.3, pool_size=1, limit_statements=True)
        try:
            with pytest.raises(SQLAlchemyError) as caught:
                await database.read(lambda opened: opened.execute(text(SLEEP[dialect])).all())
        finally:
            await database.dispose()
    assert isinstance(connector_error(caught.value), TransientError)
