"""The gateway's own durable state: tokens and the backend ids they resolve to.

SQLAlchemy Core on the same durable engines as the SQL connector: SQLite (WAL, full
sync, one writer) by default, PostgreSQL when several gateway instances share it, so
a token resolves on any instance.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, select, text

from connectors.sql.engines import Engines, create_engines, sqlite_file

_TIMEOUT_SECONDS = 5.0
"""How long a store statement may wait for SQLite's write lock."""

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
        self._engines: Engines | None = None

    @property
    def engines(self) -> Engines:
        if self._engines is None:
            raise RuntimeError("store is not started")
        return self._engines

    async def start(self) -> None:
        database = sqlite_file(self.url)
        if database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
        self._engines = create_engines(self.url, timeout=_TIMEOUT_SECONDS, pool_size=None)
        async with self._engines.writer.begin() as connection:
            await connection.run_sync(metadata.create_all)

    async def close(self) -> None:
        if self._engines is not None:
            await self._engines.dispose()
            self._engines = None

    async def ping(self) -> None:
        async with self.engines.reader.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def record_token(self, jurisdiction_id: str, service_request_id: str | None) -> str:
        token = new_token()
        async with self.engines.writer.begin() as connection:
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
        async with self.engines.reader.connect() as connection:
            row = (await connection.execute(query)).first()
        return (False, None) if row is None else (True, row.service_request_id)
