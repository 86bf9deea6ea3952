"""A backend record as the form parameters of an Open311 POST.

A record's keys are the upstream's parameter names (`service_code`, `lat`,
`description`, ...); `attributes` holds the attributes by code and becomes
`attribute[CODE]`, a list `attribute[CODE][]` once per value (the spec's form). Other
lists repeat their parameter (`media_url`); date-times are written in RFC 3339.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from connectors.base import PermanentError

Params = list[tuple[str, str]]

ATTRIBUTES = "attributes"
OWN_PARAMETERS = frozenset({"api_key", "jurisdiction_id"})
"""Parameters the connector sends from its settings; a record may not set them."""


def form_text(value: Any, name: str) -> str:
    """One value as a form parameter's text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        instant = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        text = instant.isoformat(timespec="seconds")
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return str(value)
    raise PermanentError(f"'{name}' cannot be sent as a form parameter: it is not a value")


def _values(name: str, value: Any) -> Params:
    if isinstance(value, list | tuple):
        return [(name, form_text(item, name)) for item in value if item is not None]
    return [(name, form_text(value, name))]


def _attributes(attributes: Any) -> Params:
    if not isinstance(attributes, Mapping):
        raise PermanentError(f"'{ATTRIBUTES}' must be a record of attribute values by code")
    params: Params = []
    for code, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            params += _values(f"attribute[{code}][]", value)
        else:
            params += _values(f"attribute[{code}]", value)
    return params


def form_params(record: Mapping[str, Any]) -> Params:
    """The parameters for `record`, in its order; fields without a value are not sent."""
    params: Params = []
    for name, value in record.items():
        if name in OWN_PARAMETERS:
            raise PermanentError(f"'{name}' comes from the connector's settings, not the mapping")
        if value is None:
            continue
        if name == ATTRIBUTES:
            params += _attributes(value)
        elif isinstance(value, Mapping):
            raise PermanentError(f"'{name}' cannot be sent as a form parameter: it is a record")
        else:
            params += _values(name, value)
    return params
