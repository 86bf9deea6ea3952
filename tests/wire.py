"""Reading Open311 bodies the way clients do: XML through the Spark convention, and
error bodies in either format."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import ClientResponse
from lxml import etree

ARRAYS = {"attributes", "values", "endpoints", "formats", "groups"}
ROOT_ARRAYS = {"services", "service_requests", "service_request_updates", "errors"}


def spark(xml: bytes) -> Any:
    """The Spark reading of an XML body: root dropped, list elements as arrays of items."""
    root = etree.fromstring(xml)
    return _items(root) if root.tag in ROOT_ARRAYS else _spark(root)


def _items(element: etree._Element) -> list[Any]:
    assert len({child.tag for child in element}) <= 1, "mixed items in a list"
    return [_spark(child) for child in element]


def _spark(element: etree._Element) -> Any:
    if element.tag in ARRAYS:
        return _items(element)
    if len(element):
        tags = [child.tag for child in element]
        assert len(tags) == len(set(tags)), f"repeated child in <{element.tag}>"
        return {child.tag: _spark(child) for child in element}
    return element.text or ""


def stringify(value: Any) -> Any:
    """JSON scalars as their XML text, so both bodies compare directly."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [stringify(v) for v in value]
    if isinstance(value, dict):
        return {k: stringify(v) for k, v in value.items()}
    return value if isinstance(value, str) else str(value)


async def errors_of(response: ClientResponse, fmt: str) -> list[dict]:
    """The error list of a body in either format, as JSON values."""
    body = await response.read()
    if fmt == "json":
        assert response.content_type == "application/json"
        return json.loads(body)
    assert response.content_type == "text/xml"
    root = etree.fromstring(body)
    assert root.tag == "errors"
    return [
        {"code": int(e.findtext("code")), "description": e.findtext("description")} for e in root
    ]


async def assert_error(response: ClientResponse, fmt: str, status: int, *fragments: str) -> None:
    assert response.status == status, await response.text()
    errors = await errors_of(response, fmt)
    assert errors and all(e["code"] == status for e in errors)
    text = " | ".join(e["description"] for e in errors)
    for fragment in fragments:
        assert fragment in text, text
