"""Running a parsed SOQL query over the simulator's records, with Salesforce's checks.

A field must exist and be filterable; a literal must be of the field's type (a quoted
date-time for a dateTime field is refused, as Salesforce refuses it); an id must be a
valid id. Text compares without regard to case; ids compare on their first 15
characters. Faults are the ones Salesforce answers with.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from connectors.salesforce.ids import canonical_id
from connectors.testing.salesforce.objects import TEXT_TYPES, FieldSpec, ObjectSpec
from connectors.testing.salesforce.org import Fault, Org, Row
from connectors.testing.salesforce.soql import (
    Comparison,
    Condition,
    Junction,
    Like,
    Membership,
    Not,
    Order,
    Query,
    SoqlError,
    Value,
    parse,
)

Predicate = Callable[[Row], bool]

_TYPE_NAMES = {"datetime": "dateTime", "date": "date", "double": "double", "boolean": "boolean"}


def parsed(statement: str) -> Query:
    try:
        return parse(statement)
    except SoqlError as exc:
        raise Fault(400, "MALFORMED_QUERY", str(exc)) from None


def run(org: Org, query: Query) -> list[Row]:
    """The rows the query selects, each holding only its fields, in its order."""
    try:
        spec = org.spec(query.sobject)
    except Fault:
        raise Fault(
            400, "INVALID_TYPE", f"sObject type '{query.sobject}' is not supported."
        ) from None
    fields = [_field(spec, name) for name in query.fields]
    keep = _predicate(spec, query.where) if query.where is not None else None
    rows = [row for row in org.rows(spec.name) if keep is None or keep(row)]
    for order in reversed(query.order_by):
        rows.sort(key=_sort_key(_field(spec, order.field), order), reverse=order.descending)
    start = query.offset or 0
    end = None if query.limit is None else start + query.limit
    return [{column.name: row.get(column.name) for column in fields} for row in rows[start:end]]


def _field(spec: ObjectSpec, name: str) -> FieldSpec:
    column = spec.field(name)
    if column is None:
        raise Fault(
            400, "INVALID_FIELD", f"No such column '{name}' on entity '{spec.name}'.", (name,)
        )
    return column


def _predicate(spec: ObjectSpec, condition: Condition) -> Predicate:
    if isinstance(condition, Junction):
        parts = [_predicate(spec, part) for part in condition.conditions]
        if condition.operator == "AND":
            return lambda row: all(part(row) for part in parts)
        return lambda row: any(part(row) for part in parts)
    if isinstance(condition, Not):
        inner = _predicate(spec, condition.condition)
        return lambda row: not inner(row)
    column = _filterable(spec, condition.field)
    name = column.name
    if isinstance(condition, Like):
        if column.type not in TEXT_TYPES or column.type in ("id", "reference"):
            raise Fault(400, "INVALID_FIELD", f"invalid operator on {name}: LIKE")
        pattern = condition.pattern
        return lambda row: row.get(name) is not None and bool(pattern.fullmatch(row[name]))
    if isinstance(condition, Membership):
        wanted = {_comparable(column, value, "IN") for value in condition.values}
        negated = condition.negated
        return lambda row: (_stored(column, row.get(name)) in wanted) != negated
    return _comparison(column, condition)


def _comparison(column: FieldSpec, condition: Comparison) -> Predicate:
    name, operator = column.name, condition.operator
    if condition.value is None:
        if operator not in ("=", "!="):
            raise _bad_operator(f"null cannot be compared with {operator}")
        return lambda row: (row.get(name) is None) == (operator == "=")
    if column.type == "boolean" and operator not in ("=", "!="):
        raise _bad_operator(f"invalid operator on boolean: {operator}")
    wanted = _comparable(column, condition.value, operator)
    test = _OPERATORS[operator]

    def holds(row: Row) -> bool:
        stored = _stored(column, row.get(name))
        if stored is None:
            return operator == "!="
        return test(stored, wanted)

    return holds


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _filterable(spec: ObjectSpec, name: str) -> FieldSpec:
    column = _field(spec, name)
    if not column.filterable:
        raise Fault(
            400,
            "INVALID_FIELD",
            f"field '{column.name}' can not be filtered in a query call",
            (column.name,),
        )
    return column


def _comparable(column: FieldSpec, value: Value, operator: str) -> Any:
    """The literal as the field's values compare, or the fault Salesforce gives."""
    kind = column.type
    if value is None:
        return None
    if kind in ("id", "reference"):
        key = canonical_id(value) if isinstance(value, str) else None
        if key is None:
            raise _bad_operator(f"invalid ID field: {value}")
        return key
    if kind in TEXT_TYPES:
        if not isinstance(value, str):
            raise _wrong_type(column, "string", quoted=True)
        return value.casefold()
    if kind == "double" and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return Decimal(value)
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "datetime" and isinstance(value, datetime):
        return value
    if kind == "date" and isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise _wrong_type(column, _TYPE_NAMES.get(kind, kind), quoted=False)


def _bad_operator(message: str) -> Fault:
    return Fault(400, "INVALID_QUERY_FILTER_OPERATOR", message)


def _wrong_type(column: FieldSpec, type_name: str, *, quoted: bool) -> Fault:
    enclosed = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
    return Fault(
        400,
        "INVALID_FIELD",
        f"value of filter criterion for field '{column.name}' must be of type {type_name} "
        f"and {enclosed}",
        (column.name,),
    )


def _stored(column: FieldSpec, value: Any) -> Any:
    if value is None:
        return None
    if column.type in ("id", "reference"):
        return str(value)[:15]
    if column.type in TEXT_TYPES:
        return str(value).casefold()
    if column.type == "double":
        return Decimal(repr(value))
    return value


def _sort_key(column: FieldSpec, order: Order) -> Callable[[Row], tuple[int, Any]]:
    nulls_last = order.nulls_last if order.nulls_last is not None else order.descending
    null_rank = (1 if nulls_last else 0) if not order.descending else (0 if nulls_last else 1)

    def key(row: Row) -> tuple[int, Any]:
        value = _stored(column, row.get(column.name))
        if value is None:
            return (null_rank, 0)
        return (1 - null_rank, value)

    return key
