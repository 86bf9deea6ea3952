"""The SQL connector: a ticketing database reached through SQLAlchemy Core.

Records are rows as dicts keyed by column name, with the rows joined to a ticket
under their keys (`connectors.sql.records`). A new ticket's record may carry its first
history row under `history` and its contact row under `contact`, all written in one
transaction; a history record carries its ticket under `ticket` (read) or the ticket
columns to change with it (written by `post_update`). `list_services` reads every row
of the services table, offered only when the backend section describes one.

Settings: `url` (a SQLAlchemy URL: `sqlite:///tickets.db`, `postgresql://...`,
`mariadb://...` or `mysql://...`), `create_schema` (create the tables when absent,
with a lookup's `rows`), `pool_size` (the most connections open to the database; on
SQLite the readers', as writes there go through one connection of their own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection, Table, select, text, update

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
from connectors.sql.creation import create_schema
from connectors.sql.database import Database, open_database, sqlite_file
from connectors.sql.errors import database_call
from connectors.sql.records import TicketView
from connectors.sql.schema import (
    CONTACT_KEY,
    FIRST_CHANGE_KEY,
    INTEGER_TYPES,
    TICKET_KEY,
    SqlSchema,
)
from connectors.sql.searches import SearchStatements
from connectors.sql.tables import build_tables
from connectors.sql.writer import TicketWriter


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
        self._view = TicketView(self._tables)
        self._searches = SearchStatements(self._tables, self._view)
        self._columns = {
            table.name: frozenset(table.c.keys())
            for table in (self._tables.tickets, self._tables.history, self._tables.contact)
            if table is not None
        }
        self._database: Database | None = None
        self._writer: TicketWriter | None = None

    async def start(self) -> None:
        settings = self._settings
        database = sqlite_file(settings.url)
        if settings.create_schema and database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
        database = open_database(
            settings.url, timeout=self.timeout, pool_size=settings.pool_size, limit_statements=True
        )
        try:
            if settings.create_schema:
                async with database_call(self.timeout):
                    await database.write(
                        partial(create_schema, tables=self._tables, lock_seconds=self.timeout)
                    )
        except BaseException:
            await database.dispose()
            raise
        self._database = database
        self._writer = TicketWriter(database, self._tables, self._view, timeout=self.timeout)
        self._writer.start()

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
        contact: Record = {}
        if self._tables.contact is not None:
            contact = _sub_record(ticket.pop(CONTACT_KEY, None), CONTACT_KEY)
            self._check_columns(self._tables.contact, contact)
        ticket[self._spec.tickets.reference] = idempotency_key
        ticket.setdefault(self._spec.tickets.created_at, datetime.now(UTC))
        self._check_ticket_columns(ticket)
        self._check_columns(self._tables.history, first_change)
        if self._writer is None:
            raise TransientError("the sql connector is not started")
        async with database_call(self.timeout):
            return await self._writer.create(ticket, first_change, contact, idempotency_key)

    async def find_by_reference(self, idempotency_key: str) -> Record | None:
        reference = self._view.field(self._spec.tickets.reference)
        rows = await self._read(self._view.select().where(reference == idempotency_key))
        return rows[0] if rows else None

    async def get(self, ids: Sequence[str]) -> list[Record]:
        keys = self._ticket_keys(ids)
        if not keys:
            return []
        return await self._read(*self._searches.by_ids(keys, len(keys)))

    async def search(self, query: BackendQuery) -> list[Record]:
        if query.ids:
            return await self._read(
                *self._searches.by_ids(self._ticket_keys(query.ids), query.limit)
            )
        return await self._read(*self._searches.bind(query))

    async def updates(self, since: datetime, until: datetime) -> list[Record]:
        history, view = self._tables.history, self._view
        statement, params = self._searches.updates(since, until)
        split = len(history.c)
        database = self._started()
        async with database_call(self.timeout):
            rows = await database.read(
                lambda connection: connection.execute(statement, params).all()
            )
        return [
            {
                **dict(zip(history.c.keys(), row[:split], strict=True)),
                TICKET_KEY: view.record(row),
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
        self._check_ticket_columns(ticket_changes)
        view = self._view
        history_id = history.c[spec.history.id]

        def change_ticket(connection: Connection) -> Record:
            if ticket_changes:
                changes = dict(ticket_changes)
                view.resolve_lookups(connection, [changes])
                connection.execute(update(tickets).where(view.id_column == key).values(changes))
            found = view.read(connection, view.select().where(view.id_column == key))
            if not found:
                raise NotFoundError(f"no ticket '{ticket_id}'")
            inserted = connection.execute(history.insert().values(change))
            stored = connection.execute(
                select(history).where(history_id == inserted.inserted_primary_key[0])
            )
            return {**dict(stored.mappings().one()), TICKET_KEY: found[0]}

        database = self._started()
        async with database_call(self.timeout):
            return await database.write(change_ticket)

    async def list_services(self) -> list[Record]:
        services = self._tables.services
        if services is None:
            raise UnsupportedError("the sql backend describes no services table")
        return await self._read_rows(select(services).order_by(*services.primary_key.columns))

    def _started(self) -> Database:
        if self._database is None:
            raise TransientError("the sql connector is not started")
        return self._database

    async def _read(self, statement: Any, params: Mapping[str, Any] | None = None) -> list[Record]:
        """Tickets as records, with their joined rows."""
        database = self._started()
        async with database_call(self.timeout):
            return await database.read(partial(self._view.read, statement=statement, params=params))

    async def _read_rows(self, statement: Any) -> list[Record]:
        database = self._started()
        async with database_call(self.timeout):
            return await database.read(
                lambda connection: [dict(row) for row in connection.execute(statement).mappings()]
            )

    def _check_ticket_columns(self, ticket: Record) -> None:
        """A ticket's own columns, or a lookup naming its row (resolved when written)."""
        own = {key: value for key, value in ticket.items() if key not in self._tables.lookups}
        self._check_columns(self._tables.tickets, own)

    def _check_columns(self, table: Table, record: Record) -> None:
        if not self._columns[table.name].issuperset(record):
            unknown = ", ".join(sorted(set(record) - self._columns[table.name]))
            raise PermanentError(f"table '{table.name}' has no column {unknown}")

    def _ticket_keys(self, ticket_ids: Sequence[Any]) -> list[Any]:
        """The ids that can be ticket keys, as the id column holds them."""
        return [key for key in map(self._ticket_key, ticket_ids) if key is not None]

    def _ticket_key(self, ticket_id: Any) -> Any:
        """A ticket id as the id column holds it; None when it cannot be one."""
        if self._spec.tickets.columns[self._spec.tickets.id] not in INTEGER_TYPES:
            return str(ticket_id)
        try:
            return int(ticket_id)
        except (TypeError, ValueError):
            return None


def _sub_record(value: Any, key: str) -> Record:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PermanentError(f"'{key}' must be a record of columns")
    return dict(value)
