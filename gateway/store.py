"""The gateway's own durable state: tokens and the backend ids they resolve to.

SQLAlchemy Core on an async engine: SQLite (WAL, full sync) by default, PostgreSQL
when several gateway instances share it, so a token resolves on any instance.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Column, DateTime, MetaData, String, Table, event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

metadata = MetaData()

tokens = Table(
    "tokens",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("jurisdiction_id", String(200), nullable=False),
    Column("service_request_id", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def new_token() -> str:
    return secrets.token_urlsafe(18)


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("store is not started")
        return self._engine

    async def start(self) -> None:
        if self.url.startswith("sqlite"):
            _ensure_parent_folder(self.url)
        self._engine = create_async_engine(self.url)
        if self.url.startswith("sqlite"):
            event.listen(self._engine.sync_engine, "connect", _sqlite_durability)
        async with self._engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def record_token(self, jurisdiction_id: str, service_request_id: str | None) -> str:
        token = new_token()
        async with self.engine.begin() as connection:
            await connection.execute(
                tokens.insert().values(
                    token=token,
                    jurisdiction_id=jurisdiction_id,
                    service_request_id=service_request_id,
                    created_at=datetime.now(UTC),
                )
            )
        return token

    async def resolve_token(self, jurisdiction_id: str, token: str) -> tuple[bool, str | None]:
        """(known, service_request_id): a known token may still be pending (id None)."""
        query = select(tokens.c.service_request_id).where(
            tokens.c.token == token, tokens.c.jurisdiction_id == jurisdiction_id
        )
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return (False, None) if row is None else (True, row.service_request_id)


def _ensure_parent_folder(url: str) -> None:
    _, _, file = url.partition(":///")
    if file and file != ":memory:":
        Path(file).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_durability(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
