"""Salesforce's failures as the connector's typed errors.

Transient: timeouts, connections (TLS included), 5xx, REQUEST_LIMIT_EXCEEDED, a session
refused even when fresh, credentials refused (a configuration to fix, not a payload to
drop), answers that are not JSON. Not found: 404. Permanent: every other refusal, with
Salesforce's own errorCode, message and fields kept, e-mail addresses taken out (a
validation message may quote the value) and the length bounded: reasons are logged.
"""

from __future__ import annotations

import re
from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceError

from connectors.base import ConnectorError, NotFoundError, PermanentError, TransientError
from connectors.redaction import bounded

TRANSIENT_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW"})
"""Error codes that say "later", whatever the HTTP status."""
_EMAIL = re.compile(r"[^\s@'\"<>(),;:]+@[^\s@'\"<>(),;:]+")
"""Wider than `connectors.redaction`'s: Salesforce quotes addresses of any domain,
local ones (`user@host`) included."""


def safe_text(text: str) -> str:
    """Salesforce's words as they may be logged: no e-mail address, bounded."""
    return bounded(_EMAIL.sub("[email]", " ".join(text.split())))


def problems(content: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    """(errorCode, message, fields) of each error in a Salesforce error body."""
    found = []
    for item in content if isinstance(content, list) else [content]:
        if isinstance(item, dict):
            fields = item.get("fields") or ()
            found.append(
                (
                    str(item.get("errorCode", "")),
                    str(item.get("message", "")),
                    tuple(map(str, fields if isinstance(fields, list) else ())),
                )
            )
    return found


def described(content: Any) -> str:
    parts = []
    for code, message, fields in problems(content):
        part = f"{code}: {message}" if code else message
        parts.append(part + (f" (fields: {', '.join(fields)})" if fields else ""))
    return safe_text("; ".join(parts)) or "no reason given"


def connector_error(exc: Exception) -> ConnectorError:
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, requests.Timeout):
        return TransientError("Salesforce did not answer within the timeout")
    if isinstance(exc, SalesforceError):
        return _refusal(exc)
    if isinstance(exc, requests.RequestException | ValueError):
        return TransientError(f"Salesforce could not be reached or read ({type(exc).__name__})")
    raise exc


def _refusal(exc: SalesforceError) -> ConnectorError:
    codes = {code for code, _, _ in problems(exc.content)}
    reason = described(exc.content)
    if exc.status >= 500 or codes & TRANSIENT_CODES:
        return TransientError(f"Salesforce is unavailable ({exc.status}): {reason}")
    if exc.status == 401:
        return TransientError(f"Salesforce refused the session: {reason}")
    if exc.status == 404:
        return NotFoundError(f"Salesforce has no such record: {reason}")
    return PermanentError(f"Salesforce refused the request: {reason}")
