"""What each section of a mapping can read.

Sections that write to the backend read the Open311 input (a new request or a
citizen's update) and the call's `context`; sections that read from the backend read
field paths of the backend record. A source name the section cannot read is a load
error, so a typo never maps silently to nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.mapping.paths import path_reader, split_path
from gateway.open311.models import NewRequestUpdate, NewServiceRequest, UpdateStatus

Getter = Callable[[Any, Any], Any]
"""Reads one value from (subject, context): the Open311 input or the backend record,
and the `MappingContext` (None when a record is read)."""

ATTRIBUTE_PREFIX = "attributes."


class SourceError(ValueError):
    """A source a section cannot read; the message says what it can read."""


@dataclass(frozen=True, slots=True)
class Domain:
    """The values a source can take, so that a table translating it is checked at load."""

    described_as: str
    values: frozenset[str]
    complete: bool
    """Whether every value needs an entry (or a fallback) in such a table."""


def _plain(value: Any) -> Any:
    """A multivaluelist's tuple as a list, as JSON and every backend library expect."""
    return list(value) if isinstance(value, tuple) else value


def _attribute(code: str) -> Getter:
    return lambda request, _context: _plain(request.attributes.get(code))


def _all_attributes(request: NewServiceRequest, _context: Any) -> dict[str, Any] | None:
    return {code: _plain(value) for code, value in request.attributes.items()} or None


def _first_media_url(request: NewServiceRequest, _context: Any) -> str | None:
    return request.media_urls[0] if request.media_urls else None


def _citizen_status(update: NewRequestUpdate, _context: Any) -> str:
    """mySociety posts update statuses in upper case (FIXED); tables are keyed that way."""
    return update.status.value.upper()


CITIZEN_STATUSES = frozenset(status.value.upper() for status in UpdateStatus)

_CONTEXT: dict[str, Getter] = {
    "context.jurisdiction_id": lambda _subject, context: context.jurisdiction_id,
    "context.idempotency_key": lambda _subject, context: context.idempotency_key,
    "context.now": lambda _subject, context: context.now,
}

_NEW_REQUEST: dict[str, Getter] = {
    "service_code": lambda request, _context: request.service_code,
    "lat": lambda request, _context: request.location.lat,
    "long": lambda request, _context: request.location.long,
    "address_string": lambda request, _context: request.location.address_string,
    "address_id": lambda request, _context: request.location.address_id,
    "description": lambda request, _context: request.description,
    "email": lambda request, _context: request.email,
    "device_id": lambda request, _context: request.device_id,
    "account_id": lambda request, _context: request.account_id,
    "first_name": lambda request, _context: request.first_name,
    "last_name": lambda request, _context: request.last_name,
    "phone": lambda request, _context: request.phone,
    "media_url": _first_media_url,
    "attributes": _all_attributes,
}

_NEW_UPDATE: dict[str, Getter] = {
    "service_request_id": lambda update, _context: update.service_request_id,
    "update_id": lambda update, _context: update.update_id,
    "status": _citizen_status,
    "updated_datetime": lambda update, _context: update.updated_datetime,
    "description": lambda update, _context: update.description,
    "email": lambda update, _context: update.email,
    "first_name": lambda update, _context: update.first_name,
    "last_name": lambda update, _context: update.last_name,
    "account_id": lambda update, _context: update.account_id,
    "media_url": lambda update, _context: update.media_url,
}


@dataclass(frozen=True, slots=True)
class InputScope:
    """The sources of a section that writes an Open311 input to the backend."""

    described_as: str
    fields: Mapping[str, Getter]
    domains: Mapping[str, Domain] = field(default_factory=dict)
    attributes: bool = False

    def reader(self, source: str) -> Getter:
        if source in self.fields:
            return self.fields[source]
        if source in _CONTEXT:
            return _CONTEXT[source]
        if self.attributes and source.startswith(ATTRIBUTE_PREFIX) and source != ATTRIBUTE_PREFIX:
            return _attribute(source.removeprefix(ATTRIBUTE_PREFIX))
        known = [*self.fields, *(["attributes.CODE"] if self.attributes else []), *_CONTEXT]
        raise SourceError(
            f"unknown source '{source}' for {self.described_as}; known: {', '.join(known)}"
        )

    def domain(self, source: str) -> Domain | None:
        return self.domains.get(source)


class RecordScope:
    """The sources of a section that reads a backend record: any field path in it."""

    def reader(self, source: str) -> Getter:
        segments = split_path(source)
        if segments is None:
            raise SourceError(f"'{source}' is not a field path: a segment is empty")
        read = path_reader(segments)
        return lambda record, _context: read(record)

    def domain(self, source: str) -> Domain | None:
        return None


Scope = InputScope | RecordScope


def new_request_scope(service_codes: Collection[str]) -> InputScope:
    domains = {}
    if service_codes:
        domains["service_code"] = Domain(
            "a service code of this mapping", frozenset(service_codes), complete=True
        )
    return InputScope("a new Open311 request", _NEW_REQUEST, domains, attributes=True)


def new_update_scope() -> InputScope:
    statuses = Domain("a citizen update status", CITIZEN_STATUSES, complete=False)
    return InputScope("a citizen's update", _NEW_UPDATE, {"status": statuses})
