"""The backend section of a mapping for the SQL connector, and the tables built from it.

Table and column names come only from here; every statement is built from these
SQLAlchemy Core tables, so every value is a bound parameter.

```yaml
backend:
  tickets:
    table: tickets            # the ticket table
    id: ticket_no             # its primary key (an integer one is generated)
    reference: external_ref   # holds the idempotency key; UNIQUE
    created_at: created_at    # when the ticket was made; searches are newest first by it
    columns: {ticket_no: integer, category: text, created_at: datetime, ...}
  history:
    table: ticket_history     # one row per change of a ticket
    id: history_id            # its primary key (stable: it is the Open311 update_id)
    ticket: ticket_no         # the ticket's id
    time: changed_at          # when the change happened
    columns: {history_id: integer, ticket_no: integer, changed_at: datetime, ...}
  services:                   # optional: the back office's own list of services, for a
    table: categories         #   catalogue taken from the backend (list_services)
    id: code                  # its primary key; services are listed in its order
    columns: {code: text, title: text, ...}
```
Column types: integer, float, text, datetime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import Column, ForeignKey, Index, MetaData, Table

from connectors.sql.columns import COLUMN_TYPES

ColumnType = Literal["integer", "float", "text", "datetime"]

FIRST_CHANGE_KEY = "history"
"""The key of a new ticket's record holding its first history row."""
TICKET_KEY = "ticket"
"""The key of a history record holding its ticket (read) or the ticket's changes (write)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _require_columns(
    columns: dict[str, ColumnType], named: dict[str, str], reserved: str | None = None
) -> None:
    for role, column in named.items():
        if column not in columns:
            raise PydanticCustomError(
                "unknown_column",
                "{role} '{column}' is not one of the columns",
                {"role": role, "column": column},
            )
    if reserved is not None and reserved in columns:
        raise PydanticCustomError(
            "reserved_column",
            "a column may not be named '{reserved}': records use that key for the other table",
            {"reserved": reserved},
        )


class TicketTable(_Model):
    table: str = Field(min_length=1)
    id: str = Field(min_length=1)
    reference: str = Field(min_length=1)
    created_at: str = Field(min_length=1)
    columns: dict[str, ColumnType] = Field(min_length=1)

    @model_validator(mode="after")
    def _roles_are_columns(self) -> Self:
        named = {"id": self.id, "reference": self.reference, "created_at": self.created_at}
        _require_columns(self.columns, named, FIRST_CHANGE_KEY)
        return self


class HistoryTable(_Model):
    table: str = Field(min_length=1)
    id: str = Field(min_length=1)
    ticket: str = Field(min_length=1)
    time: str = Field(min_length=1)
    columns: dict[str, ColumnType] = Field(min_length=1)

    @model_validator(mode="after")
    def _roles_are_columns(self) -> Self:
        named = {"id": self.id, "ticket": self.ticket, "time": self.time}
        _require_columns(self.columns, named, TICKET_KEY)
        return self


class ServicesTable(_Model):
    table: str = Field(min_length=1)
    id: str = Field(min_length=1)
    columns: dict[str, ColumnType] = Field(min_length=1)

    @model_validator(mode="after")
    def _roles_are_columns(self) -> Self:
        _require_columns(self.columns, {"id": self.id})
        return self


class SqlSchema(_Model):
    tickets: TicketTable
    history: HistoryTable
    services: ServicesTable | None = None

    @model_validator(mode="after")
    def _two_tables(self) -> Self:
        if self.tickets.table == self.history.table:
            raise PydanticCustomError("same_table", "tickets and history need two tables")
        if self.services is not None and self.services.table in (
            self.tickets.table,
            self.history.table,
        ):
            raise PydanticCustomError(
                "same_table", "services need a table of their own, apart from tickets and history"
            )
        return self


@dataclass(frozen=True, slots=True)
class Tables:
    metadata: MetaData
    tickets: Table
    history: Table
    services: Table | None
    schema: SqlSchema


def build_tables(schema: SqlSchema) -> Tables:
    metadata = MetaData()
    spec = schema.tickets
    tickets = Table(
        spec.table,
        metadata,
        *(
            Column(
                name,
                COLUMN_TYPES[kind](),
                primary_key=name == spec.id,
                unique=name == spec.reference,
            )
            for name, kind in spec.columns.items()
        ),
        Index(f"ix_{spec.table}_{spec.created_at}", spec.created_at),
    )
    changes = schema.history
    history = Table(
        changes.table,
        metadata,
        *(
            Column(
                name,
                COLUMN_TYPES[kind](),
                *([ForeignKey(tickets.c[spec.id])] if name == changes.ticket else []),
                primary_key=name == changes.id,
            )
            for name, kind in changes.columns.items()
        ),
        Index(f"ix_{changes.table}_{changes.ticket}", changes.ticket),
        Index(f"ix_{changes.table}_{changes.time}", changes.time),
    )
    services = None
    if schema.services is not None:
        listed = schema.services
        services = Table(
            listed.table,
            metadata,
            *(
                Column(name, COLUMN_TYPES[kind](), primary_key=name == listed.id)
                for name, kind in listed.columns.items()
            ),
        )
    return Tables(metadata, tickets, history, services, schema)
