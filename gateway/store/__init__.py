"""The gateway's own durable state: tokens and the backend ids they resolve to.

Its schema is versioned (`migrate.py`): starting a store brings it up to date.

SQLAlchemy Core on the same kind of durable database as the SQL connector: SQLite (WAL, full
sync, one writer) by default, PostgreSQL when several gateway instances share it, so
a token resolves on any instance.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import select, text

from connectors.sql.database import Database, open_database, sqlite_file
from gateway.store.migrate import upgrade
from gateway.store.tables import tokens

_TIMEOUT_SECONDS = 5.0
"""How long a store statement may wait for SQLite's write lock."""


def new_token() -> str:
    return secrets.token_urlsafe(18)


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self._database: Database | None = None

    @property
    def database(self) -> Database:
        if self._database is None:
            raise RuntimeError("store is not started")
        return self._database

    async def start(self) -> None:
        database_file = sqlite_file(self.url)
        if database_file is not None:
            database_file.parent.mkdir(parents=True, exist_ok=True)
        self._database = open_database(self.url, timeout=_TIMEOUT_SECONDS, pool_size=None)
        await self._database.write(upgrade)

    async def close(self) -> None:
        if self._database is not None:
            await self._database.dispose()
            self._database = None

    async def ping(self) -> None:
        await self.database.read(lambda connection: connection.execute(text("SELECT 1")))

    async def record_token(self, jurisdiction_id: str, service_request_id: str | None) -> str:
        token = new_token()
        row = {
            "token": token,
            "jurisdiction_id": jurisdiction_id,
            "service_request_id": service_request_id,
            "created_at": datetime.now(UTC),
        }
        await self.database.write(lambda connection: connection.execute(tokens.insert(), row))
        return token

    async def resolve_token(self, jurisdiction_id: str, token: str) -> tuple[bool, str | None]:
        """(known, service_request_id): a known token may still be pending (id None)."""
        query = select(tokens.c.service_request_id).where(
            tokens.c.token == token, tokens.c.jurisdiction_id == jurisdiction_id
        )
        row = await self.database.read(lambda connection: connection.execute(query).first())
        return (False, None) if row is None else (True, row.service_request_id)
