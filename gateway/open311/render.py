"""Render GeoReport v2 resources as XML or JSON bytes.

Every resource is first turned into one plain tree (dicts, lists and scalars) and
that tree is emitted in either format, so the JSON is the "Spark" reading of the
XML by construction: the root is dropped and a list field is an array even with
zero or one item. Fields whose value is None are left out of both. Dates stay
datetimes in the tree and are written by orjson in both formats, with one set of
options: a page of requests has two dates a record, and formatting them in Python
cost more than rendering the rest of the record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from math import isfinite
from typing import Literal, TypeAlias

import orjson
from lxml import etree
from pydantic import BaseModel

from gateway.open311.errors import Problem
from gateway.open311.models import (
    Attribute,
    Discovery,
    RequestReceipt,
    RequestUpdate,
    Service,
    ServiceDefinition,
    ServiceRequest,
)

Format = Literal["xml", "json"]

CONTENT_TYPES: dict[str, str] = {
    "xml": "text/xml; charset=utf-8",
    "json": "application/json; charset=utf-8",
}

Node: TypeAlias = "str | bool | int | float | datetime | list[Node] | dict[str, Node]"
Tree: TypeAlias = "dict[str, Node]"

_XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'

_ITEM_TAGS = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "groups": "group",
}
"""The element name of each item of a list field (`<attributes><attribute>…`)."""

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot carry (lone surrogates cannot even be UTF-8 encoded)."""

_JSON_ESCAPES = re.compile(rb"\\[bfu]|\xef\xbf[\xbe\xbf]")
"""How JSON carries the characters among them that survive encoding (control characters
escaped, U+FFFE and U+FFFF as UTF-8); false alarms cost a re-dump."""

_ORJSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS
"""Dates in RFC 3339, whole seconds, in their own offset, `Z` for UTC."""


def render_services(services: Sequence[Service], fmt: Format) -> bytes:
    """GET services: `<services><service>…` or a top-level JSON array."""
    return _render_list("services", "service", [_service(s) for s in services], fmt)


def render_service_definition(defn: ServiceDefinition, fmt: Format) -> bytes:
    """GET services/{code}: `attributes` and each `values` are arrays even when empty."""
    tree: Tree = {
        "service_code": defn.service_code,
        "attributes": [_attribute(a) for a in defn.attributes],
    }
    return _render_object("service_definition", tree, fmt)


def render_requests(requests: Sequence[ServiceRequest], fmt: Format) -> bytes:
    """GET requests and requests/{id} (the latter is still a list of one)."""
    return _render_list("service_requests", "request", [_fields(r) for r in requests], fmt)


def render_receipts(receipts: Sequence[RequestReceipt], fmt: Format) -> bytes:
    """POST requests and GET tokens/{t}: whichever of id and token is known."""
    return _render_list("service_requests", "request", [_fields(r) for r in receipts], fmt)


def render_updates(updates: Sequence[RequestUpdate], fmt: Format) -> bytes:
    """mySociety GET/POST servicerequestupdates."""
    items = [_fields(u) for u in updates]
    return _render_list("service_request_updates", "request_update", items, fmt)


def render_discovery(d: Discovery, fmt: Format) -> bytes:
    """GET discovery: `endpoints` and each `formats` are arrays."""
    tree: Tree = {
        "changeset": d.changeset,
        "contact": d.contact,
        "key_service": d.key_service,
        "endpoints": [
            {
                "specification": e.specification,
                "url": e.url,
                "changeset": e.changeset,
                "type": e.type,
                "formats": list(e.formats),
            }
            for e in d.endpoints
        ],
    }
    return _render_object("discovery", tree, fmt)


def render_errors(problems: Sequence[Problem], fmt: Format) -> bytes:
    """Error bodies; `code` is a JSON integer because clients compare it as one."""
    items: list[Tree] = [{"code": p.code, "description": p.description} for p in problems]
    return _render_list("errors", "error", items, fmt)


def _service(s: Service) -> Tree:
    """Built by hand: this is the hot path of GET services.json."""
    tree: Tree = {
        "service_code": s.service_code,
        "service_name": s.service_name,
        "description": s.description,
        "metadata": s.metadata,
        "type": s.type,
    }
    if s.keywords:
        tree["keywords"] = ",".join(s.keywords)
    if s.group is not None:
        tree["group"] = s.group
    if s.groups:
        tree["groups"] = list(s.groups)
    return tree


def _attribute(a: Attribute) -> Tree:
    tree: Tree = {
        "variable": a.variable,
        "code": a.code,
        "datatype": a.datatype,
        "required": a.required,
    }
    if a.datatype_description is not None:
        tree["datatype_description"] = a.datatype_description
    tree["order"] = a.order
    tree["description"] = a.description
    tree["values"] = [{"key": v.key, "name": v.name} for v in a.values]
    if a.automated is not None:
        tree["automated"] = a.automated
    return tree


def _fields(model: BaseModel) -> Tree:
    """A flat model's set fields in wire order; non-finite floats count as unknown.

    Read from the model's `__dict__`, where pydantic keeps the values in field order."""
    tree: Tree = {}
    for name, value in model.__dict__.items():
        if value is None or (value.__class__ is float and not isfinite(value)):
            continue
        tree[name] = value
    return tree


def _datetime(value: datetime) -> str:
    """A date as orjson writes it in the JSON, for the XML and the fallback encoder."""
    return orjson.dumps(value, option=_ORJSON_OPTIONS)[1:-1].decode()


def _render_list(root: str, item: str, items: list[Tree], fmt: Format) -> bytes:
    return _json(items) if fmt == "json" else _xml_list(root, item, items)


def _render_object(root: str, tree: Tree, fmt: Format) -> bytes:
    return _json(tree) if fmt == "json" else _xml_object(root, tree)


def _json(data: Node) -> bytes:
    """Compact UTF-8 JSON without the characters the XML leaves out, screened cheaply."""
    try:
        body = _dumps(data)
    except UnicodeEncodeError:  # a lone surrogate
        return _dumps(_scrub(data))
    if (b"\\" in body or b"\xef\xbf" in body) and _JSON_ESCAPES.search(body):
        return _dumps(_scrub(data))
    return body


def _dumps(data: Node) -> bytes:
    try:
        return orjson.dumps(data, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, or a lone surrogate
        return _FALLBACK.encode(data).encode()


_FALLBACK = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_datetime)
"""The standard library's encoder, for what orjson refuses; it writes dates by `default`."""


def _xml_list(root: str, item: str, items: list[Tree]) -> bytes:
    element = etree.Element(root)
    for tree in items:
        _fill(etree.SubElement(element, item), tree)
    return _XML_DECLARATION + etree.tostring(element, encoding="utf-8")


def _xml_object(root: str, tree: Tree) -> bytes:
    element = etree.Element(root)
    _fill(element, tree)
    return _XML_DECLARATION + etree.tostring(element, encoding="utf-8")


def _fill(element: etree._Element, tree: Tree) -> None:
    for key, value in tree.items():
        child = etree.SubElement(element, key)
        if isinstance(value, list):
            tag = _ITEM_TAGS[key]
            for item in value:
                _put(etree.SubElement(child, tag), item)
        else:
            _put(child, value)


def _put(element: etree._Element, value: Node) -> None:
    if isinstance(value, dict):
        _fill(element, value)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, datetime):
        element.text = _datetime(value)
    elif isinstance(value, str):
        try:
            element.text = value
        except ValueError:  # lxml refuses characters XML cannot carry
            element.text = _ILLEGAL.sub("", value)
    else:
        element.text = str(value)


def _scrub(node: Node) -> Node:
    """A copy of the tree without the characters that the XML leaves out."""
    if isinstance(node, str):
        return _ILLEGAL.sub("", node)
    if isinstance(node, list):
        return [_scrub(item) for item in node]
    if isinstance(node, dict):
        return {key: _scrub(value) for key, value in node.items()}
    return node
