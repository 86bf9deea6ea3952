"""The idempotency key as the upstream keeps it: in a header, an attribute, a description.

Open311 has no idempotency key of its own. A key goes on the wire as it is when it is
short printable ASCII (what an HTTP header and most servers take), else as its SHA-256:
the same key always gives the same reference, so a repeat is recognised either way.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from connectors.upstream.forms import ATTRIBUTES
from connectors.upstream.settings import ReferenceSettings

MAX_REFERENCE = 200
"""Characters of a reference at most, as this gateway keeps an `Idempotency-Key`."""
MAX_DESCRIPTION = 4000
"""The protocol's limit on a description, which the reference line must fit within."""

_MARKER = re.compile(r"\s*\[gateway-ref: ([!-~][ -~]*?)\]\s*\Z")
"""The line `with_reference` appends, at the very end of a description."""


def wire_reference(key: str) -> str:
    """The reference an idempotency key is sent as."""
    if len(key) <= MAX_REFERENCE and key.isascii() and key.isprintable() and key == key.strip():
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def _description_line(reference: str) -> str:
    return f"[gateway-ref: {reference}]"


def with_reference(
    payload: dict[str, Any], reference: str, settings: ReferenceSettings
) -> dict[str, Any]:
    """The payload carrying the reference where the settings say. A description with
    the line would be over the protocol's limit is shortened to fit it."""
    marked = dict(payload)
    if settings.attribute is not None:
        attributes = marked.get(ATTRIBUTES) or {}
        if isinstance(attributes, dict):
            marked[ATTRIBUTES] = {**attributes, settings.attribute: reference}
    if settings.description:
        line = _description_line(reference)
        text = str(marked.get("description") or "")
        if not text:
            marked["description"] = line
        else:
            room = MAX_DESCRIPTION - len(line) - 2
            marked["description"] = f"{text[:room]}\n\n{line}"
    return marked


def description_reference(record: dict[str, Any]) -> str | None:
    """The reference a record's description ends with, if any."""
    description = record.get("description")
    if not isinstance(description, str):
        return None
    found = _MARKER.search(description)
    return found.group(1) if found else None


def without_reference(record: dict[str, Any]) -> dict[str, Any]:
    """The record with the reference line taken off its description: it is the
    connector's bookkeeping, not the citizen's words."""
    description = record.get("description")
    if not isinstance(description, str) or _MARKER.search(description) is None:
        return record
    return {**record, "description": _MARKER.sub("", description)}
