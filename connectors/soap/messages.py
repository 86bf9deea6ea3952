"""Request messages built from the mapping's records, and records read from responses.

A message is the request element's content as nested dicts (zeep's keyword arguments);
a path names elements from there. A response is read back the same way, from the
response element: zeep hands back the element's only child (and that child's only
child) instead of the element itself, which `response_record` undoes from the WSDL's
types, so a `result` path means the same whatever the response's shape.
"""

from __future__ import annotations

from typing import Any

from zeep.helpers import serialize_object

from connectors.base import Record


def put(message: Record, path: str, value: Any) -> None:
    """Set `path` in `message` to `value`, copying every record on the way, so that a
    record the mapping made is never changed."""
    *parents, last = path.split(".")
    node = message
    for name in parents:
        child = node.get(name)
        node[name] = dict(child) if isinstance(child, dict) else {}
        node = node[name]
    node[last] = value


def placed(record: Record, path: str | None) -> Record:
    """A message holding `record` at `path`, or made of it when there is no path."""
    if path is None:
        return dict(record)
    message: Record = {}
    put(message, path, dict(record))
    return message


def without_gaps(value: Any) -> Any:
    """`value` with every null item of a list left out: a mapping pads a list it writes
    by index (`Answers.Answer.2`) with nulls, where a message has no element at all."""
    if isinstance(value, dict):
        return {key: without_gaps(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [without_gaps(item) for item in value if item is not None]
    return value


def found(record: Any, path: str) -> Any:
    for name in path.split("."):
        if not isinstance(record, dict):
            return None
        record = record.get(name)
    return record


def records_at(response: Record, path: str) -> list[Record]:
    """The records at `path`: none, one, or a repeated element's."""
    value = found(response, path)
    if value is None:
        return []
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return [value] if isinstance(value, dict) else []


def record_at(response: Record, path: str) -> Record | None:
    records = records_at(response, path)
    return records[0] if records else None


def _only_child(xsd_type: Any) -> str | None:
    """The name of a complex type's one element when it has nothing else, else None."""
    elements = getattr(xsd_type, "elements", None)
    if not elements or len(elements) != 1 or getattr(xsd_type, "attributes", None):
        return None
    return str(elements[0][0])


def response_record(operation: Any, result: Any) -> Record:
    """The response element's content as a record, from what zeep returned for
    `operation` (a bound operation of the WSDL)."""
    body = operation.output.body
    if body is None or result is None:
        return {}
    child = _only_child(body.type)
    if child is None:
        value = serialize_object(result, dict)
        return value if isinstance(value, dict) else {}
    element = dict(body.type.elements)[child]
    grandchild = _only_child(element.type)
    value = serialize_object(result, dict)
    return {child: {grandchild: value} if grandchild is not None else value}
