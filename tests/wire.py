"""Reading Open311 bodies the way clients do: XML through the Spark convention."""

from __future__ import annotations

from typing import Any

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
