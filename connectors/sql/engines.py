"""Database engines, set up for durability and for SQLite's single writer.

SQLite (WAL, `synchronous=FULL`) gets two engines: one writer connection, on which
sqlite3 opens each transaction with `BEGIN IMMEDIATE` just before the first write (in
the same call, so it costs no extra round trip to the driver's thread), and a pool of
readers, which WAL never blocks. Its `busy_timeout` equals the connector's timeout, so
a locked database fails within it. Other databases share one pooled engine.

Engines keep SQL parameters (personal data) out of error messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_READERS = 4


@dataclass(frozen=True, slots=True)
class Engines:
    writer: AsyncEngine
    reader: AsyncEngine

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str) -> Path | None:
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def create_engines(url: str, *, timeout: float, pool_size: int | None) -> Engines:
    if not is_sqlite(url):
        engine = create_async_engine(
            url, pool_size=pool_size or 5, pool_timeout=timeout, hide_parameters=True
        )
        return Engines(engine, engine)
    busy_ms = max(1, int(timeout * 1000))
    writer = create_async_engine(url, pool_size=1, max_overflow=0, hide_parameters=True)
    event.listen(writer.sync_engine, "connect", sqlite_setup(busy_ms, begin="IMMEDIATE"))
    reader = create_async_engine(
        url,
        pool_size=pool_size or SQLITE_READERS,
        pool_reset_on_return=None,  # sqlite3 opens no transaction for a SELECT: nothing to reset
        hide_parameters=True,
    )
    event.listen(reader.sync_engine, "connect", sqlite_setup(busy_ms, begin=""))
    return Engines(writer, reader)


def sqlite_setup(busy_ms: int, *, begin: str | None) -> Any:
    """A "connect" listener: WAL, full sync, and a lock wait bounded by `busy_ms`.

    `begin` is how sqlite3 starts a transaction before a write: "" (deferred),
    "IMMEDIATE", or None (never: the caller emits its own BEGIN).
    """

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = begin
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    return on_connect
