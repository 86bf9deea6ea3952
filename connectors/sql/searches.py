"""Searches as statements built once per shape, with the query's values bound to them.

A shape is which fields a search filters on, which bounds it gives and its order;
the values are parameters (the window of updates has a single shape). Building the
select anew for every GET requests cost a quarter of the route's time on the event
loop (py-spy under wrk), and a new statement object also made SQLAlchemy compute its
cache key again on every execution. The shapes are few: their fields come from the
mapping, not from the client.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.sql.elements import ColumnElement

from connectors.base import BackendQuery
from connectors.sql.records import TicketView
from connectors.sql.tables import Tables

Shape = tuple[tuple[str, ...], tuple[tuple[str, bool, bool], ...], str]
"""The fields filtered by `any_of`, each range's field and which bounds it has, the order."""

_BY_IDS = "ids"


class SearchStatements:
    def __init__(self, tables: Tables, view: TicketView) -> None:
        self._view = view
        self._created_at = tables.schema.tickets.created_at
        self._by_ids = self._statement((), (), self._created_at, by_ids=True)
        self._by_shape: dict[Shape, Select[Any]] = {}
        history, spec = tables.history, tables.schema.history
        time = history.c[spec.time]
        self._updates = (
            select(*history.c, *view.columns)
            .select_from(history.join(view.source, history.c[spec.ticket] == view.id_column))
            .where(time >= bindparam("since"), time < bindparam("until"))
            .order_by(time, history.c[spec.id])
        )

    def updates(self, since: datetime, until: datetime) -> tuple[Select[Any], dict[str, Any]]:
        """History rows changed in `since <= time < until`, oldest first, each row
        followed by its ticket's columns."""
        return self._updates, {"since": since, "until": until}

    def by_ids(self, keys: Sequence[Any], limit: int) -> tuple[Select[Any], dict[str, Any]]:
        """The tickets with these keys (as the id column holds them), newest first."""
        return self._by_ids, {_BY_IDS: list(keys), "limit": limit}

    def bind(self, query: BackendQuery) -> tuple[Select[Any], dict[str, Any]]:
        """The statement of the query's shape (its `ids` aside), and the values to
        execute it with."""
        params: dict[str, Any] = {"limit": query.limit}
        ranges: list[tuple[str, bool, bool]] = []
        for position, values in enumerate(query.any_of.values()):
            params[f"any_{position}"] = list(values)
        for position, (field, bounds) in enumerate(query.ranges.items()):
            ranges.append((field, bounds.low is not None, bounds.high is not None))
            if bounds.low is not None:
                params[f"low_{position}"] = bounds.low
            if bounds.high is not None:
                params[f"high_{position}"] = bounds.high
        shape: Shape = (tuple(query.any_of), tuple(ranges), query.order_by or self._created_at)
        statement = self._by_shape.get(shape)
        if statement is None:
            statement = self._by_shape[shape] = self._statement(*shape)
        return statement, params

    def _statement(
        self,
        any_of: tuple[str, ...],
        ranges: tuple[tuple[str, bool, bool], ...],
        order_by: str,
        *,
        by_ids: bool = False,
    ) -> Select[Any]:
        view = self._view
        conditions: list[ColumnElement[bool]] = []
        if by_ids:
            conditions.append(view.id_column.in_(bindparam(_BY_IDS, expanding=True)))
        for position, field in enumerate(any_of):
            values = bindparam(f"any_{position}", expanding=True)
            conditions.append(view.field(field).in_(values))
        for position, (field, low, high) in enumerate(ranges):
            column = view.field(field)
            if low:
                conditions.append(column >= bindparam(f"low_{position}"))
            if high:
                conditions.append(column < bindparam(f"high_{position}"))
        order = view.field(order_by)
        return (
            view.select()
            .where(*conditions)
            .order_by(order.desc(), view.id_column.desc())
            .limit(bindparam("limit"))
        )
