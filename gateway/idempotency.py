"""How a repeated POST is recognised, so it gets the first answer and nothing is queued.

A request is identified by the client's `Idempotency-Key` header, else by the value of
the jurisdiction's `idempotency_param` (a report's id in the client's own system), else
by a fingerprint of its content. Keys are namespaced by where they came from, so a
header and a parameter never collide. A job's key is written into the backend record,
so a redelivered job finds the record instead of creating a second one.

A fingerprint counts as a repeat only within the jurisdiction's window; after it, the
same content is a new request and needs a key of its own. Its key names the submission
it follows, so two copies sent at the same instant still share one key (and one
answer), while the same report sent again next week does not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from gateway.open311.errors import bad_request
from gateway.open311.models import NewServiceRequest

HEADER = "Idempotency-Key"
"""The header a client names its request with; on GET requests, it asks for the request
created under that key (the upstream connector finds its deliveries that way)."""
MAX_KEY_LENGTH = 200
"""Characters of a client's key at most: keys are stored, queued and written to backends."""

_FINGERPRINTED = frozenset(
    {
        "service_code",
        "location",
        "description",
        "attributes",
        "email",
        "device_id",
        "account_id",
        "first_name",
        "last_name",
        "phone",
    }
)
"""What makes two requests the same report: where, what, and who."""


@dataclass(frozen=True, slots=True)
class Identity:
    """A request's key, when the client gave one; else its content's fingerprint."""

    key: str | None
    fingerprint: str | None


def identify(
    request: NewServiceRequest,
    *,
    header: str | None,
    param: str | None = None,
    param_value: str | None = None,
) -> Identity:
    """The identity of a request from its `Idempotency-Key` header or its `param`."""
    key = header_key(header)
    if key is not None:
        return Identity(key, None)
    if param is not None and param_value:
        return Identity(f"param:{param}={_checked(param_value, param)}", None)
    return Identity(None, fingerprint(request))


def header_key(header: str | None) -> str | None:
    """The key of a request sent with this `Idempotency-Key` header; None without one."""
    header = (header or "").strip()
    return f"header:{_checked(header, HEADER)}" if header else None


def fingerprint(request: NewServiceRequest) -> str:
    """SHA-256 of the request's canonical JSON: the same report gives the same digest."""
    canonical = request.model_dump(mode="json", include=_FINGERPRINTED)
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def fingerprint_key(fingerprint: str, previous_job_id: str | None) -> str:
    """The key of a fingerprinted request that is not a repeat: one per generation of the
    same content, named after the submission it follows (None: the first)."""
    if previous_job_id is None:
        return f"fingerprint:{fingerprint}"
    return f"fingerprint:{fingerprint}:{previous_job_id}"


def _checked(value: str, name: str) -> str:
    if len(value) > MAX_KEY_LENGTH:
        raise bad_request(f"{name}: longer than {MAX_KEY_LENGTH} characters")
    return value
