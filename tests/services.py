"""The real services some tests need, and what happens when one is not there.

On a developer's machine a test that needs PostgreSQL, MariaDB or RabbitMQ skips, saying
loudly which service and where; with `OPEN311_REQUIRE_SERVICES=1` (set by `.ci/run`)
the same test fails instead, so CI never passes by skipping.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aio_pika
import asyncmy
import asyncpg
import pytest
from aiormq.exceptions import AMQPError
from sqlalchemy.engine import make_url

from gateway.queue.amqp_topology import Topology

POSTGRES_DSN = os.environ.get(
    "OPEN311_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
"""An administrative connection, used only to create and drop throwaway databases."""


def unavailable(service: str, reason: object) -> None:
    message = f"{service} is not reachable ({reason}); start it or set OPEN311_TEST_* to it"
    if os.environ.get("OPEN311_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test; its SQLAlchemy URL; dropped afterwards."""
    try:
        admin = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable("PostgreSQL", exc)
    name = f"open311_test_{secrets.token_hex(6)}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = POSTGRES_DSN.rsplit("/", 1)[0]
            yield f"{base}/{name}"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


MARIADB_URL = os.environ.get("OPEN311_TEST_MARIADB", "mariadb://root@127.0.0.1:3306/test")
"""An administrative connection, used only to create and drop throwaway databases."""


@asynccontextmanager
async def mariadb_database() -> AsyncIterator[str]:
    """A fresh MariaDB (or MySQL) database for one test; its SQLAlchemy URL; dropped after."""
    server = make_url(MARIADB_URL)
    try:
        admin = await asyncio.wait_for(
            asyncmy.connect(
                host=server.host or "127.0.0.1",
                port=server.port or 3306,
                user=server.username or "root",
                password=server.password or "",
                autocommit=True,
            ),
            timeout=5,
        )
    except (OSError, TimeoutError, asyncmy.errors.Error) as exc:
        unavailable("MariaDB", exc)
    name = f"open311_test_{secrets.token_hex(6)}"
    try:
        async with admin.cursor() as cursor:
            await cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.cursor() as cursor:
                await cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        await admin.ensure_closed()


RABBITMQ_URL = os.environ.get("OPEN311_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672/")


async def rabbitmq_url() -> str:
    """The test broker's URL, once it answers."""
    try:
        connection = await aio_pika.connect(RABBITMQ_URL, timeout=5)
    except (OSError, AMQPError) as exc:
        unavailable("RabbitMQ", exc)
    await connection.close()
    return RABBITMQ_URL


@asynccontextmanager
async def rabbitmq_topology(url: str, topology: Topology) -> AsyncIterator[None]:
    """Deletes every exchange and queue of a test's topology afterwards, whatever
    happened (a test names them with a prefix of its own)."""
    try:
        yield
    finally:
        connection = await aio_pika.connect(url, timeout=5)
        try:
            await topology.delete(await connection.channel())
        finally:
            await connection.close()
