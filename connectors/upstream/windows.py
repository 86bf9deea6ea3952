"""Time windows on the wire: whole seconds out, the exact bounds kept on what comes back.

The protocol's date-times are whole seconds, so a window `[low, high)` goes out widened
to whole seconds (its start rounded down, its end up) and the records that come back are
held to the exact window, which an upstream's own reading of its end (inclusive, say)
would not give either.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import PermanentError, Record
from connectors.upstream.forms import Params, form_text

MAX_SPAN = timedelta(days=90)
"""The longest window the protocol allows."""


def _aware(value: Any, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise PermanentError(f"{name} must be a date-time to be sent to an Open311 upstream")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def window_params(low: Any, high: Any) -> Params:
    """`start_date` and `end_date` for the bounds given (None: open). A window the widening
    would take over the protocol's 90 days keeps its end and starts 90 days before it
    (less than a second later than asked)."""
    start = None if low is None else _aware(low, "start_date").replace(microsecond=0)
    end = None if high is None else _aware(high, "end_date")
    if end is not None and end.microsecond:
        end = end.replace(microsecond=0) + timedelta(seconds=1)
    if start is not None and end is not None and end - start > MAX_SPAN:
        start = end - MAX_SPAN
    params: Params = []
    if start is not None:
        params.append(("start_date", form_text(start, "start_date")))
    if end is not None:
        params.append(("end_date", form_text(end, "end_date")))
    return params


def instant(value: Any) -> datetime | None:
    """A record's date-time (RFC 3339 text), or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def within(records: list[Record], field: str, low: Any, high: Any) -> list[Record]:
    """The records whose `field` is in `[low, high)`, in their order. One whose time cannot
    be read is kept, for the mapping to judge."""
    start = None if low is None else _aware(low, "start_date")
    end = None if high is None else _aware(high, "end_date")
    kept = []
    for record in records:
        moment = instant(record.get(field))
        if moment is None or ((start is None or start <= moment) and (end is None or moment < end)):
            kept.append(record)
    return kept


def oldest_first(records: list[Record], field: str) -> list[Record]:
    """Sorted by `field`, stable; those whose time cannot be read first."""
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(records, key=lambda record: instant(record.get(field)) or epoch)
