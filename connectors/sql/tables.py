"""SQLAlchemy Core tables built from the backend section (`connectors.sql.schema`).

Creating them (`create_schema`) gives each key its constraint (primary, UNIQUE for the
reference, foreign keys to tickets and lookups), the sequences the section names, and
indexes on what reads filter and join by.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, MetaData, Sequence, Table
from sqlalchemy.schema import SchemaItem

from connectors.sql.columns import COLUMN_TYPES, KeyText
from connectors.sql.schema import (
    ColumnType,
    ContactTable,
    HistoryTable,
    LookupTable,
    ServicesTable,
    SqlSchema,
)


@dataclass(frozen=True, slots=True)
class Tables:
    metadata: MetaData
    tickets: Table
    history: Table
    services: Table | None
    schema: SqlSchema
    contact: Table | None = None
    lookups: dict[str, Table] = field(default_factory=dict)


def _column(
    name: str,
    kind: ColumnType,
    *extras: SchemaItem,
    key: bool = False,
    primary_key: bool = False,
    unique: bool = False,
) -> Column[Any]:
    """A column; text that is a key (`key`, primary or unique) is bounded where it must be."""
    keyed = key or primary_key or unique
    kind_type = KeyText() if kind == "text" and keyed else COLUMN_TYPES[kind]()
    return Column(name, kind_type, *extras, primary_key=primary_key, unique=unique)


def _generated(sequence: str | None) -> list[SchemaItem]:
    return [Sequence(sequence)] if sequence is not None else []


def _indexes(table: str, columns: Iterable[str]) -> list[Index]:
    return [Index(f"ix_{table}_{column}", column) for column in columns]


def _keyed(metadata: MetaData, spec: LookupTable | ServicesTable) -> Table:
    """A table of its own, read whole or by its key."""
    return Table(
        spec.table,
        metadata,
        *(_column(name, kind, primary_key=name == spec.id) for name, kind in spec.columns.items()),
    )


def _ticket_rows(
    metadata: MetaData,
    spec: HistoryTable | ContactTable,
    ticket_id: Column[Any],
    *,
    indexed: list[str],
) -> Table:
    """A table of rows that belong to a ticket: its `ticket` column refers to one."""
    return Table(
        spec.table,
        metadata,
        *(
            _column(
                name,
                kind,
                *_generated(spec.sequence if name == spec.id else None),
                *([ForeignKey(ticket_id)] if name == spec.ticket else []),
                key=name == spec.ticket,
                primary_key=name == spec.id,
            )
            for name, kind in spec.columns.items()
        ),
        *_indexes(spec.table, indexed),
    )


def build_tables(schema: SqlSchema) -> Tables:
    metadata = MetaData()
    lookups = {name: _keyed(metadata, spec) for name, spec in schema.lookups.items()}
    joined_by = {
        spec.ticket_column: lookups[name].c[spec.id] for name, spec in schema.lookups.items()
    }
    spec = schema.tickets
    tickets = Table(
        spec.table,
        metadata,
        *(
            _column(
                name,
                kind,
                *_generated(spec.sequence if name == spec.id else None),
                *([ForeignKey(joined_by[name])] if name in joined_by else []),
                key=name in joined_by,
                primary_key=name == spec.id,
                unique=name == spec.reference,
            )
            for name, kind in spec.columns.items()
        ),
        *_indexes(spec.table, [spec.created_at, *joined_by]),
    )
    ticket_id = tickets.c[spec.id]
    changes = schema.history
    history = _ticket_rows(metadata, changes, ticket_id, indexed=[changes.ticket, changes.time])
    contact = None
    if schema.contact is not None:
        contact = _ticket_rows(metadata, schema.contact, ticket_id, indexed=[schema.contact.ticket])
    services = _keyed(metadata, schema.services) if schema.services is not None else None
    return Tables(metadata, tickets, history, services, schema, contact, lookups)
