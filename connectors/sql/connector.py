"""The SQL connector: a ticketing database reached through SQLAlchemy Core.

Records are rows as dicts keyed by column name. A new ticket's record may carry its
first history row under `history`; a history record carries its ticket under
`ticket` (read) or the ticket columns to change with it (written by `post_update`).
`list_services` reads every row of the services table, offered only when the backend
section describes one.

Settings: `url` (a SQLAlchemy URL: `sqlite:///tickets.db`, or `postgresql://...`),
`create_schema` (create the tables when absent), `pool_size` (pooled connections; on
SQLite the readers', as writes there go through one connection of their own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection, Table, select, text, update
from sqlalchemy.sql.elements import ColumnElement

from connectors.base import (
    BackendQuery,
    Capability,
    Connector,
    NotFoundError,
    PermanentError,
    Record,
    TransientError,
    UnsupportedError,
)
from connectors.sql.database import Database, open_database, sqlite_file
from connectors.sql.errors import database_call
from connectors.sql.schema import FIRST_CHANGE_KEY, TICKET_KEY, SqlSchema, build_tables
from connectors.sql.writer import TicketWriter

_SCHEMA_LOCK = 0x311_7AB1E
"""The PostgreSQL advisory lock that serialises creating the backend's tables."""


class SqlSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=1)
    create_schema: bool = False
    pool_size: int | None = Field(default=None, ge=1)

    @field_validator("url")
    @classmethod
    def _not_in_memory(cls, url: str) -> str:
        if ":memory:" in url:
            raise ValueError(
                "an in-memory SQLite database cannot be shared by the writer and the readers: "
                "use a file"
            )
        return url


class SqlConnector(Connector):
    kind: ClassVar[str] = "sql"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.CREATE,
            Capability.FIND_BY_REFERENCE,
            Capability.GET,
            Capability.SEARCH,
            Capability.UPDATES,
            Capability.POST_UPDATE,
        }
    )
    schema_model: ClassVar[type[BaseModel] | None] = SqlSchema

    @classmethod
    def capabilities_for(cls, schema: Mapping[str, Any]) -> frozenset[Capability]:
        if schema.get("services") is None:
            return cls.capabilities
        return cls.capabilities | {Capability.LIST_SERVICES}

    def __init__(self, settings: Mapping[str, Any], schema: Mapping[str, Any], *, timeout: float):
        super().__init__(settings, schema, timeout=timeout)
        self._settings = SqlSettings.model_validate(settings)
        self._tables = build_tables(SqlSchema.model_validate(schema))
        self._spec = self._tables.schema
        self._columns = {
            table.name: frozenset(table.c.keys())
            for table in (self._tables.tickets, self._tables.history)
        }
        self._database: Database | None = None
        self._writer: TicketWriter | None = None

    async def start(self) -> None:
        settings = self._settings
        database = sqlite_file(settings.url)
        if settings.create_schema and database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
        database = open_database(settings.url, timeout=self.timeout, pool_size=settings.pool_size)
        try:
            if settings.create_schema:
                async with database_call(self.timeout):
                    await database.write(self._create_schema)
        except BaseException:
            await database.dispose()
            raise
        self._database = database
        self._writer = TicketWriter(database, self._tables, timeout=self.timeout)
        self._writer.start()

    def _create_schema(self, connection: Connection) -> None:
        """The tables that are missing, created once even when several processes (a
        gateway and its workers) start together: each takes the database's lock first."""
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # sqlite3 begins only at the first DML
        elif connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        self._tables.metadata.create_all(connection)

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        if self._database is not None:
            await self._database.dispose()
            self._database = None

    async def health(self) -> None:
        database = self._started()
        async with database_call(self.timeout):
            await database.read(lambda connection: connection.execute(text("SELECT 1")))

    async def create(self, payload: Record, idempotency_key: str) -> Record:
        ticket = dict(payload)
        first_change = _sub_record(ticket.pop(FIRST_CHANGE_KEY, None), FIRST_CHANGE_KEY)
        ticket[self._spec.tickets.reference] = idempotency_key
        ticket.setdefault(self._spec.tickets.created_at, datetime.now(UTC))
        self._check_columns(self._tables.tickets, ticket)
        self._check_columns(self._tables.history, first_change)
        if self._writer is None:
            raise TransientError("the sql connector is not started")
        async with database_call(self.timeout):
            return await self._writer.create(ticket, first_change, idempotency_key)

    async def find_by_reference(self, idempotency_key: str) -> Record | None:
        tickets = self._tables.tickets
        query = select(tickets).where(tickets.c[self._spec.tickets.reference] == idempotency_key)
        rows = await self._read(query)
        return rows[0] if rows else None

    async def get(self, ids: Sequence[str]) -> list[Record]:
        tickets = self._tables.tickets
        keys = [key for key in map(self._ticket_key, ids) if key is not None]
        if not keys:
            return []
        return await self._read(select(tickets).where(tickets.c[self._spec.tickets.id].in_(keys)))

    async def search(self, query: BackendQuery) -> list[Record]:
        tickets, spec = self._tables.tickets, self._spec.tickets
        id_column = tickets.c[spec.id]
        conditions: list[ColumnElement[bool]] = []
        if query.ids:
            keys = [key for key in map(self._ticket_key, query.ids) if key is not None]
            conditions.append(id_column.in_(keys))
        else:
            for field, values in query.any_of.items():
                conditions.append(_column(tickets, field).in_(values))
            for field, bounds in query.ranges.items():
                column = _column(tickets, field)
                if bounds.low is not None:
                    conditions.append(column >= bounds.low)
                if bounds.high is not None:
                    conditions.append(column < bounds.high)
        order = _column(tickets, query.order_by or spec.created_at)
        statement = (
            select(tickets)
            .where(*conditions)
            .order_by(order.desc(), id_column.desc())
            .limit(query.limit)
        )
        return await self._read(statement)

    async def updates(self, since: datetime, until: datetime) -> list[Record]:
        tickets, history, spec = self._tables.tickets, self._tables.history, self._spec
        time = history.c[spec.history.time]
        statement = (
            select(*history.c, *tickets.c)
            .join_from(
                history, tickets, history.c[spec.history.ticket] == tickets.c[spec.tickets.id]
            )
            .where(time >= since, time < until)
            .order_by(time, history.c[spec.history.id])
        )
        split = len(history.c)
        database = self._started()
        async with database_call(self.timeout):
            rows = await database.read(lambda connection: connection.execute(statement).all())
        return [
            {
                **dict(zip(history.c.keys(), row[:split], strict=True)),
                TICKET_KEY: dict(zip(tickets.c.keys(), row[split:], strict=True)),
            }
            for row in rows
        ]

    async def post_update(self, payload: Record) -> Record:
        tickets, history, spec = self._tables.tickets, self._tables.history, self._spec
        change = dict(payload)
        ticket_changes = _sub_record(change.pop(TICKET_KEY, None), TICKET_KEY)
        ticket_id = change.get(spec.history.ticket)
        key = self._ticket_key(ticket_id) if ticket_id is not None else None
        if key is None:
            raise NotFoundError(f"no ticket '{ticket_id}'")
        change[spec.history.ticket] = key
        change.setdefault(spec.history.time, datetime.now(UTC))
        self._check_columns(history, change)
        self._check_columns(tickets, ticket_changes)
        id_column = tickets.c[spec.tickets.id]

        def change_ticket(connection: Connection) -> Record:
            if ticket_changes:
                changed = update(tickets).where(id_column == key).values(ticket_changes)
                found = changed.returning(*tickets.c)
            else:
                found = select(tickets).where(id_column == key)
            ticket = connection.execute(found).mappings().first()
            if ticket is None:
                raise NotFoundError(f"no ticket '{ticket_id}'")
            inserted = history.insert().values(change).returning(*history.c)
            stored = connection.execute(inserted).mappings().one()
            return {**dict(stored), TICKET_KEY: dict(ticket)}

        database = self._started()
        async with database_call(self.timeout):
            return await database.write(change_ticket)

    async def list_services(self) -> list[Record]:
        services = self._tables.services
        if services is None:
            raise UnsupportedError("the sql backend describes no services table")
        return await self._read(select(services).order_by(*services.primary_key.columns))

    def _started(self) -> Database:
        if self._database is None:
            raise TransientError("the sql connector is not started")
        return self._database

    async def _read(self, statement: Any) -> list[Record]:
        database = self._started()
        async with database_call(self.timeout):
            return await database.read(
                lambda connection: [dict(row) for row in connection.execute(statement).mappings()]
            )

    def _check_columns(self, table: Table, record: Record) -> None:
        if not self._columns[table.name].issuperset(record):
            unknown = ", ".join(sorted(set(record) - self._columns[table.name]))
            raise PermanentError(f"table '{table.name}' has no column {unknown}")

    def _ticket_key(self, ticket_id: Any) -> Any:
        """A ticket id as the id column holds it; None when it cannot be one."""
        if self._spec.tickets.columns[self._spec.tickets.id] != "integer":
            return str(ticket_id)
        try:
            return int(ticket_id)
        except (TypeError, ValueError):
            return None


def _column(table: Table, name: str) -> Any:
    if name not in table.c:
        raise PermanentError(f"table '{table.name}' has no column '{name}'")
    return table.c[name]


def _sub_record(value: Any, key: str) -> Record:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PermanentError(f"'{key}' must be a record of columns")
    return dict(value)
