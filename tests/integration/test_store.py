"""The store on SQLite and PostgreSQL: versioned schema, tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gateway.store import Store
from gateway.store.migrate import current_revision, head_revision
from gateway.store.tables import metadata

from services import postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"
        return
    async with postgres_database() as url:
        yield url


async def test_start_brings_the_schema_to_the_newest_revision(store_url: str) -> None:
    store = Store(store_url)
    await store.start()
    try:
        assert await store.database.read(current_revision) == head_revision()
        differences = await store.database.read(
            lambda connection: compare_metadata(MigrationContext.configure(connection), metadata)
        )
        assert differences == [], "the tables differ from the migrations: add a revision"
    finally:
        await store.close()


async def test_instances_starting_together_migrate_once(store_url: str) -> None:
    stores = [Store(store_url) for _ in range(3)]
    await asyncio.gather(*(store.start() for store in stores))
    try:
        token = await stores[0].record_token("city", "42")
        assert await stores[2].resolve_token("city", token) == (True, "42")
    finally:
        for store in stores:
            await store.close()


async def test_tokens_resolve_within_their_jurisdiction(store_url: str) -> None:
    store = Store(store_url)
    await store.start()
    try:
        pending = await store.record_token("city", None)
        assert await store.resolve_token("city", pending) == (True, None)
        assert await store.resolve_token("other", pending) == (False, None)
        assert await store.resolve_token("city", "unknown") == (False, None)
    finally:
        await store.close()
    reopened = Store(store_url)
    await reopened.start()
    try:
        assert await reopened.resolve_token("city", pending) == (True, None)
    finally:
        await reopened.close()
