"""Records between the mapping and Salesforce's JSON.

Written: date-times as ISO 8601 in UTC (a naive one is UTC), dates as ISO dates,
decimals as numbers, lists and records as JSON text (a field holds one value; the
Open311 attributes land in a long text field). Read: Salesforce's `attributes` (type
and URL of each record) is dropped; everything else is as Salesforce gives it
(date-times stay text such as `2026-05-01T12:00:00.000+0000`, which mappings read).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from connectors.base import PermanentError, Record


def instant(value: datetime) -> datetime:
    """An aware UTC date-time; a naive one is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json_scalar(value: Any) -> Any:
    if isinstance(value, datetime):
        return instant(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise PermanentError("a number that is not finite cannot be sent to Salesforce")
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise PermanentError("a number that is not finite cannot be sent to Salesforce")
    return value


def body(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as the JSON object Salesforce takes."""
    written: dict[str, Any] = {}
    for name, value in record.items():
        if isinstance(value, dict | list | tuple):
            value = json.dumps(value, default=_json_scalar, ensure_ascii=False)
        written[name] = _json_scalar(value)
    return written


def read(record: Mapping[str, Any]) -> Record:
    """A record as Salesforce gave it, without its `attributes`."""
    return {name: value for name, value in record.items() if name != "attributes"}
