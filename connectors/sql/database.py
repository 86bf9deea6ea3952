"""A database reached with blocking SQLAlchemy code, without blocking the event loop.

Callers hand over a plain function of a `Connection`; it runs in one go, so a whole
batch of statements costs one hand-off, however many statements it holds.

SQLite runs on the standard library's driver, on threads of the database's own: one
writer thread with one connection, kept open (SQLite has a single writer; sqlite3 opens
each write transaction with `BEGIN IMMEDIATE` on its first write), and reader threads
with a connection each (WAL never blocks them). aiosqlite would instead cost a thread
hand-off per driver call, several per statement: the cost that dominated a POST.
Both run in WAL mode with `synchronous=FULL`, and `busy_timeout` equal to the timeout,
so a locked database fails within it.

Other databases use SQLAlchemy's asyncio engine, with the function run through
`run_sync`: a plain `postgresql://` URL is reached through asyncpg, a plain
`mariadb://` or `mysql://` one through asyncmy (kept up to date, and compiled, where
aiomysql is a pure-Python copy of PyMySQL). A `pool_size` caps the connections (no
overflow beyond it), to spare a legacy server; MySQL and MariaDB connections are
renewed hourly, before the server's `wait_timeout` drops them while idle.

Engines keep SQL parameters (personal data) out of error messages.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from connectors.sql.columns import MYSQL_FAMILY

T = TypeVar("T")
Work = Callable[[Connection], T]

SQLITE_READERS = 4
ASYNC_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "mysql": "mysql+asyncmy",
    "mariadb": "mariadb+asyncmy",
}
"""The driver a URL that names none is reached through."""
MYSQL_RECYCLE_SECONDS = 3600


class Database(Protocol):
    """`write` runs work in one committed transaction; `read` runs it on a reader."""

    dialect: str

    async def write(self, work: Work[T]) -> T: ...

    async def read(self, work: Work[T]) -> T: ...

    async def dispose(self) -> None: ...


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    return Path(parsed.database) if parsed.database and parsed.database != ":memory:" else None


def open_database(
    url: str, *, timeout: float, pool_size: int | None, limit_statements: bool = False
) -> Database:
    """`limit_statements`: the server gives up a statement running past `timeout`, so one
    whose caller gave up stops holding its locks and its connection (PostgreSQL, MariaDB;
    MySQL bounds only SELECTs)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return SqliteDatabase(parsed, timeout=timeout, readers=pool_size or SQLITE_READERS)
    parsed = parsed.set(drivername=ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername))
    options: dict[str, Any] = {"pool_size": pool_size or 5}
    if pool_size is not None:
        options["max_overflow"] = 0
    backend = parsed.get_backend_name()
    if backend in MYSQL_FAMILY:
        options["pool_recycle"] = MYSQL_RECYCLE_SECONDS
    if limit_statements and backend == "postgresql":
        limit = {"statement_timeout": str(_milliseconds(timeout))}
        options["connect_args"] = {"server_settings": limit}
    engine = create_async_engine(parsed, pool_timeout=timeout, hide_parameters=True, **options)
    if limit_statements and backend in MYSQL_FAMILY:
        event.listen(engine.sync_engine, "connect", _mysql_statement_limit(engine, timeout))
    return AsyncEngineDatabase(engine)


def _milliseconds(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _mysql_statement_limit(engine: AsyncEngine, seconds: float) -> Any:
    """A "connect" listener setting the session's statement limit; the dialect knows by
    then whether the server is MariaDB (its first connection initialised it)."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if getattr(engine.dialect, "is_mariadb", False):
            statement = f"SET SESSION max_statement_time = {seconds:.3f}"
        else:
            statement = f"SET SESSION max_execution_time = {_milliseconds(seconds)}"
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()

    return on_connect


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(self, url: URL, *, timeout: float, readers: int) -> None:
        url = url.set(drivername="sqlite")  # whichever driver the URL names, the file is the same
        busy_ms = _milliseconds(timeout)
        self._writer = self._engine(url, busy_ms, begin="IMMEDIATE", pool_size=1)
        self._readers = self._engine(url, busy_ms, begin="", pool_size=readers)
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._reader_threads = ThreadPoolExecutor(readers, thread_name_prefix="sqlite-reader")
        self._writer_connection: Connection | None = None
        """Opened on the writer thread at the first write; used by that thread alone."""

    @staticmethod
    def _engine(url: URL, busy_ms: int, *, begin: str, pool_size: int) -> Engine:
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=0,
            connect_args={"check_same_thread": False},
            hide_parameters=True,
        )
        event.listen(engine, "connect", sqlite_setup(busy_ms, begin=begin))
        return engine

    async def write(self, work: Work[T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer_thread, self._write, work)

    def _write(self, work: Work[T]) -> T:
        """On the writer thread: a transaction on its one connection, without a checkout
        from the pool each time (it is a measurable share of a group-committed batch)."""
        if self._writer_connection is None:
            self._writer_connection = self._writer.connect()
        with self._writer_connection.begin():
            return work(self._writer_connection)

    def _close_writer(self) -> None:
        if self._writer_connection is not None:
            self._writer_connection.close()
            self._writer_connection = None

    async def read(self, work: Work[T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader_threads, _alone, self._readers, work)

    async def dispose(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer_thread, self._close_writer)
        for threads, engine in (
            (self._writer_thread, self._writer),
            (self._reader_threads, self._readers),
        ):
            await loop.run_in_executor(None, _shut_down, threads, engine)


class AsyncEngineDatabase:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.dialect = engine.dialect.name

    async def write(self, work: Work[T]) -> T:
        async with self._engine.begin() as connection:
            return await connection.run_sync(work)

    async def read(self, work: Work[T]) -> T:
        async with self._engine.connect() as connection:
            return await connection.run_sync(work)

    async def dispose(self) -> None:
        await self._engine.dispose()


def _alone(engine: Engine, work: Work[T]) -> T:
    with engine.connect() as connection:
        return work(connection)


def _shut_down(threads: ThreadPoolExecutor, engine: Engine) -> None:
    """Let running work finish, then close the connections it used."""
    threads.shutdown(wait=True)
    engine.dispose()


def sqlite_setup(busy_ms: int, *, begin: str | None) -> Any:
    """A "connect" listener: WAL, full sync, and a lock wait bounded by `busy_ms`.

    `begin` is how sqlite3 starts a transaction before a write: "" (deferred),
    "IMMEDIATE", or None (never: the caller emits its own BEGIN).
    """
    bind_nulls_and_blobs_as_is()

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = begin
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        _switch_to_wal(cursor, busy_ms / 1000)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    return on_connect


_NULL_AS_IS: Callable[[None], None] = {}.get
"""Returns None for None, without a Python frame: `{}.get(None)`."""


def bind_nulls_and_blobs_as_is() -> None:
    """Let sqlite3 bind None and blobs without searching for an adapter.

    sqlite3 looks up an adapter for every parameter that is not an int, float, str or
    bytearray. On a miss it asks its protocol for `__adapt__`, which raises an
    AttributeError and discards it. So every NULL bound cost an exception, and so did
    every blob (SQLAlchemy binds `LargeBinary` values as memoryviews). An accepted POST
    binds about ten of these: some 1.5 % of its instructions (callgrind).

    Each adapter registered here gives back what sqlite3 would bind anyway: None stays
    None, and a memoryview is bound as the same blob. The registry is
    process-wide, so the adapters are too: registering them again changes nothing.
    """
    sqlite3.register_adapter(type(None), _NULL_AS_IS)
    sqlite3.register_adapter(memoryview, memoryview)  # a new view of the same bytes


def _switch_to_wal(cursor: Any, seconds: float) -> None:
    """WAL mode, which a database keeps once set. Switching needs the database to itself
    and SQLite answers "locked" at once, without its busy wait, when another connection
    (another instance starting) holds it: so try again for up to `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)
