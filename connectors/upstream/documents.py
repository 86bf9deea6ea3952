"""Open311 documents from the wire (XML or JSON) as plain records, the same from either.

XML is read the way the protocol derives its JSON from it (the "Spark" convention): the
root is dropped, the children of a list field (`attributes`, `values`, `groups`, ...)
become a list, a repeated child becomes a list too, and a leaf is its text. Fields the
protocol types are then given their type whatever the format: `metadata`, `variable`
and `required` are booleans, `lat` and `long` numbers, `order` an integer. Everything
else stays as the upstream wrote it, so records keep the upstream's own field names.

Untrusted XML is parsed with entities, DTDs and the network off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from lxml import etree

from connectors.base import Record
from connectors.upstream.settings import Format

LIST_FIELDS = frozenset({"attributes", "values", "endpoints", "formats", "groups"})
"""Fields whose XML children are the items of a list, even with one or none."""

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


class DocumentError(ValueError):
    """The body is not the Open311 document asked for; the message names no data."""


def _boolean(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _integer(value: Any) -> Any:
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value)
    return value


_TYPED: dict[str, Callable[[Any], Any]] = {
    "metadata": _boolean,
    "variable": _boolean,
    "required": _boolean,
    "lat": _number,
    "long": _number,
    "order": _integer,
}


def _typed(node: Any) -> Any:
    """Typed fields given their type at any depth; empty ones left out, as unknown."""
    if isinstance(node, list):
        return [_typed(item) for item in node]
    if not isinstance(node, dict):
        return node
    typed: Record = {}
    for key, value in node.items():
        convert = _TYPED.get(key)
        if convert is None:
            typed[key] = _typed(value)
        elif value is not None and value != "":
            typed[key] = convert(value)
    return typed


def _elements(element: etree._Element) -> list[etree._Element]:
    """The child elements (not entities, which are left unexpanded)."""
    return [child for child in element if isinstance(child.tag, str)]


def _name(element: etree._Element) -> str:
    """An element's name without its namespace, which some servers add."""
    return etree.QName(element).localname


def _from_element(element: etree._Element) -> Any:
    children = _elements(element)
    if _name(element) in LIST_FIELDS:
        return [_from_element(child) for child in children]
    if not children:
        return element.text or ""
    fields: Record = {}
    repeated: set[str] = set()
    for child in children:
        name, value = _name(child), _from_element(child)
        if name not in fields:
            fields[name] = value
        elif name in repeated:
            fields[name].append(value)
        else:
            fields[name] = [fields[name], value]
            repeated.add(name)
    return fields


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise DocumentError("the body is not JSON") from None


def _xml_root(body: bytes) -> etree._Element:
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError:
        raise DocumentError("the body is not XML") from None
    if root is None:
        raise DocumentError("the body is not XML")
    return root


def read_list(body: bytes, fmt: Format) -> list[Record]:
    """A list document (`services`, `service_requests`, `errors`, ...): its records."""
    if fmt == "json":
        items = _json(body)
        if isinstance(items, dict) and len(items) == 1:
            (items,) = items.values()  # a list wrapped in an object of one field
    else:
        items = [_from_element(child) for child in _elements(_xml_root(body))]
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise DocumentError("the body is not a list of records")
    return _typed(items)


def read_object(body: bytes, fmt: Format) -> Record:
    """An object document (`service_definition`, `discovery`): its fields."""
    tree = _json(body) if fmt == "json" else _from_element(_xml_root(body))
    if not isinstance(tree, dict):
        raise DocumentError("the body is not a record")
    return _typed(tree)


def error_descriptions(body: bytes, fmt: Format) -> list[str]:
    """The descriptions of an Open311 error body; none when the body is not one."""
    try:
        errors = read_list(body, fmt)
    except DocumentError:
        return []
    return [str(error["description"]) for error in errors if error.get("description")]
