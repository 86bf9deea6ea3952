"""The backend section of a mapping for the SQL connector: the tables it may touch.

Table and column names come only from here; every statement is built from SQLAlchemy
Core tables made of this description (`connectors.sql.tables`), so every value is a
bound parameter.

```yaml
backend:
  tickets:
    table: tickets            # the ticket table
    id: ticket_no             # its primary key (an integer one is generated)
    sequence: ticket_no_seq   # optional: the named sequence generating it
    reference: external_ref   # holds the idempotency key; UNIQUE
    created_at: created_at    # when the ticket was made; searches are newest first by it
    columns: {ticket_no: integer, category: text, created_at: datetime, ...}
  history:
    table: ticket_history     # one row per change of a ticket
    id: history_id            # its primary key (stable: it is the Open311 update_id)
    ticket: ticket_no         # the ticket's id
    time: changed_at          # when the change happened
    columns: {history_id: integer, ticket_no: integer, changed_at: datetime, ...}
  contact:                    # optional: the reporter's details, in a table of their own
    table: ticket_contact     #   (written with the ticket; read back under `contact`)
    id: contact_id
    ticket: ticket_no
    columns: {contact_id: integer, ticket_no: integer, email: text, ...}
  lookups:                    # optional: code tables a ticket column refers to, each read
    category:                 #   back joined, under its name (`category.title`)
      table: categories
      id: category_id         # its key, which the ticket column holds
      ticket_column: category
      columns: {category_id: integer, code: text, title: text}
      rows: [...]             # optional: written when create_schema creates the table
  services:                   # optional: the back office's own list of services, for a
    table: categories         #   catalogue taken from the backend (list_services)
    id: code                  # its primary key; services are listed in its order
    columns: {code: text, title: text, ...}
```
Column types: integer, smallint, float, text, datetime. A `sequence` is used where the
database has them (PostgreSQL, MariaDB); elsewhere, and without one, the database
generates the id itself (identity, serial, AUTO_INCREMENT, SQLite's rowid).
"""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

ColumnType = Literal["integer", "smallint", "float", "text", "datetime"]
INTEGER_TYPES = ("integer", "smallint")
LOOKED_UP_TYPES = ("integer", "smallint", "text")
"""Column types a lookup row can be found by: their values compare as text."""

FIRST_CHANGE_KEY = "history"
"""The key of a new ticket's record holding its first history row."""
TICKET_KEY = "ticket"
"""The key of a history record holding its ticket (read) or the ticket's changes (write)."""
CONTACT_KEY = "contact"
"""The key of a ticket's record holding its row of the contact table, when there is one."""


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


class _Described(_Model):
    """A table, its primary key and the columns the connector may touch."""

    table: str = Field(min_length=1)
    id: str = Field(min_length=1)
    columns: dict[str, ColumnType] = Field(min_length=1)

    reserved: ClassVar[str | None] = None
    """A name its columns may not take: its records use it for another table."""

    def roles(self) -> dict[str, str]:
        """The columns with a meaning to the connector, by role, besides `id`."""
        return {}

    @model_validator(mode="after")
    def _roles_are_columns(self) -> Self:
        _require_columns(self.columns, {"id": self.id, **self.roles()}, self.reserved)
        return self


class _Inserted(_Described):
    """A table the connector inserts rows into: the database generates their ids."""

    sequence: str | None = Field(default=None, min_length=1)
    """The named sequence the ids come from, where the database has sequences."""

    @model_validator(mode="after")
    def _sequence_makes_integers(self) -> Self:
        if self.sequence is not None and self.columns[self.id] not in INTEGER_TYPES:
            raise PydanticCustomError(
                "sequence_id",
                "a sequence generates integers, but id '{id}' is {kind}",
                {"id": self.id, "kind": self.columns[self.id]},
            )
        return self


class TicketTable(_Inserted):
    reference: str = Field(min_length=1)
    created_at: str = Field(min_length=1)

    reserved: ClassVar[str | None] = FIRST_CHANGE_KEY

    def roles(self) -> dict[str, str]:
        return {"reference": self.reference, "created_at": self.created_at}


class HistoryTable(_Inserted):
    ticket: str = Field(min_length=1)
    time: str = Field(min_length=1)

    reserved: ClassVar[str | None] = TICKET_KEY

    def roles(self) -> dict[str, str]:
        return {"ticket": self.ticket, "time": self.time}


class ContactTable(_Inserted):
    """The reporter's details, one row per ticket (the first, when a ticket has several)."""

    ticket: str = Field(min_length=1)

    def roles(self) -> dict[str, str]:
        return {"ticket": self.ticket}


class LookupTable(_Described):
    """A code table: a ticket column holds the `id` of one of its rows."""

    ticket_column: str = Field(min_length=1)
    rows: list[dict[str, int | float | str | None]] = Field(default_factory=list)
    """Written when `create_schema` creates the table, so a new database has its codes."""

    @model_validator(mode="after")
    def _rows_have_known_columns(self) -> Self:
        for number, row in enumerate(self.rows):
            unknown = sorted(set(row) - set(self.columns))
            if unknown:
                raise PydanticCustomError(
                    "unknown_column",
                    "rows.{number} names {unknown}, not one of the columns",
                    {"number": number, "unknown": ", ".join(unknown)},
                )
        return self


class ServicesTable(_Described):
    pass


class SqlSchema(_Model):
    tickets: TicketTable
    history: HistoryTable
    contact: ContactTable | None = None
    lookups: dict[str, LookupTable] = Field(default_factory=dict)
    services: ServicesTable | None = None

    @model_validator(mode="after")
    def _tables_of_their_own(self) -> Self:
        if self.tickets.table == self.history.table:
            raise PydanticCustomError("same_table", "tickets and history need two tables")
        if self.services is not None and self.services.table in (
            self.tickets.table,
            self.history.table,
        ):
            raise PydanticCustomError(
                "same_table", "services need a table of their own, apart from tickets and history"
            )
        named = [self.tickets.table, self.history.table]
        named += [self.services.table] if self.services is not None else []
        for key, table in self._joined().items():
            if table.table in named:
                raise PydanticCustomError(
                    "same_table",
                    "{key} needs a table of its own: '{table}' is used twice",
                    {"key": key, "table": table.table},
                )
            named.append(table.table)
        return self

    @model_validator(mode="after")
    def _joined_under_free_keys(self) -> Self:
        """A ticket's record holds the joined rows beside its columns, under their keys."""
        joined = {CONTACT_KEY: "the ticket's contact row"} if self.contact is not None else {}
        for name in self.lookups:
            if "." in name:
                raise PydanticCustomError(
                    "lookup_name",
                    "lookups.{name}: a lookup's name is a key of ticket records: no '.'",
                    {"name": name},
                )
            if name == FIRST_CHANGE_KEY or name in joined:
                raise PydanticCustomError(
                    "lookup_name",
                    "lookups.{name}: records use '{name}' for {what}",
                    {"name": name, "what": joined.get(name, "the new ticket's first change")},
                )
            joined[name] = f"lookup '{name}'"
        for key, what in joined.items():
            if key in self.tickets.columns:
                raise PydanticCustomError(
                    "reserved_column",
                    "tickets: a column may not be named '{key}': records use it for {what}",
                    {"key": key, "what": what},
                )
        return self

    @model_validator(mode="after")
    def _lookups_are_joined_on_ticket_columns(self) -> Self:
        for name, lookup in self.lookups.items():
            column = self.tickets.columns.get(lookup.ticket_column)
            if column is None:
                raise PydanticCustomError(
                    "unknown_column",
                    "lookups.{name}.ticket_column '{column}' is not one of the tickets' columns",
                    {"name": name, "column": lookup.ticket_column},
                )
            if column != lookup.columns[lookup.id]:
                raise PydanticCustomError(
                    "join_types",
                    "lookups.{name}: tickets column '{column}' is {kind}, but its id '{id}' "
                    "is {id_kind}",
                    {
                        "name": name,
                        "column": lookup.ticket_column,
                        "kind": column,
                        "id": lookup.id,
                        "id_kind": lookup.columns[lookup.id],
                    },
                )
        return self

    def _joined(self) -> dict[str, _Described]:
        """The tables read joined to tickets, by their key in this section."""
        joined: dict[str, _Described] = {"contact": self.contact} if self.contact else {}
        joined.update({f"lookups.{name}": table for name, table in self.lookups.items()})
        return joined
