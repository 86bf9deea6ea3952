"""The real services some tests need, and what happens when one is not there.

On a developer's machine a test that needs PostgreSQL (or later RabbitMQ) skips, saying
loudly which service and where; with `OPEN311_REQUIRE_SERVICES=1` (set by `.ci/run`)
the same test fails instead, so CI never passes by skipping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

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
