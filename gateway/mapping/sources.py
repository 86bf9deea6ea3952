"""What each section of a mapping can read.

Sections that write to the backend read the Open311 input (a new request or a
citizen's update) and the call's `context`; sections that read from the backend read
field paths of the backend record. A source name the section cannot read is a load
error, so a typo never maps silently to nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, ClassVar, NamedTuple

from gateway.mapping.catalogue import LIST_DATATYPES
from gateway.mapping.context import MappingContext
from gateway.mapping.paths import path_reader, split_path
from gateway.open311.models import (
    Attribute,
    ServiceDefinition,
    UpdateStatus,
)

Getter = Callable[[Any], Any]
"""Reads one value: from `Inputs` in a section that writes to the backend, from the
backend record in a section that reads one."""

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


class Inputs(NamedTuple):
    """What a writing section reads: the Open311 input and the call's context."""

    subject: Any
    """A `NewServiceRequest` or a `NewRequestUpdate`."""
    context: MappingContext


def _plain(value: Any) -> Any:
    """A multivaluelist's tuple as a list, as JSON and every backend library expect."""
    return list(value) if isinstance(value, tuple) else value


def _attribute(code: str) -> Getter:
    def get(inputs: Inputs) -> Any:
        value = inputs.subject.attributes.get(code)
        if value.__class__ is str:  # the usual value, at the cost of one comparison
            return value
        return list(value) if isinstance(value, tuple) else value  # _plain, without a call

    return get


def _all_attributes(inputs: Inputs) -> dict[str, Any] | None:
    attributes = inputs.subject.attributes
    return {code: _plain(value) for code, value in attributes.items()} or None


def _first_media_url(inputs: Inputs) -> str | None:
    media_urls = inputs.subject.media_urls
    return media_urls[0] if media_urls else None


def _citizen_status(inputs: Inputs) -> str:
    """mySociety posts update statuses in upper case (FIXED); tables are keyed that way."""
    return inputs.subject.status.value.upper()


def _fields(**paths: str) -> dict[str, Getter]:
    """Sources read straight from attributes of the input (C-level getters: no frame)."""
    return {source: attrgetter(f"subject.{path}") for source, path in paths.items()}


CITIZEN_STATUSES = frozenset(status.value.upper() for status in UpdateStatus)

_CONTEXT: dict[str, Getter] = {
    f"context.{name}": attrgetter(f"context.{name}")
    for name in ("jurisdiction_id", "idempotency_key", "now")
}

_NEW_REQUEST: dict[str, Getter] = {
    **_fields(
        service_code="service_code",
        lat="location.lat",
        long="location.long",
        address_string="location.address_string",
        address_id="location.address_id",
        description="description",
        email="email",
        device_id="device_id",
        account_id="account_id",
        first_name="first_name",
        last_name="last_name",
        phone="phone",
    ),
    "media_url": _first_media_url,
    "attributes": _all_attributes,
}

_NEW_UPDATE: dict[str, Getter] = {
    **_fields(service_request_id="service_request_id", update_id="update_id"),
    "status": _citizen_status,
    **_fields(
        updated_datetime="updated_datetime",
        description="description",
        email="email",
        first_name="first_name",
        last_name="last_name",
        account_id="account_id",
        media_url="media_url",
    ),
}


@dataclass(frozen=True, slots=True)
class InputScope:
    """The sources of a section that writes an Open311 input to the backend."""

    described_as: str
    fields: Mapping[str, Getter]
    domains: Mapping[str, Domain] = field(default_factory=dict)
    attributes: bool = False
    reads_backend: ClassVar[bool] = False

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
    """The sources of a section that reads a backend record: any field path in it.

    Its getters take the record itself, checked to be a dict before any of them runs
    (`gateway.mapping.compiled`).
    """

    reads_backend = True

    def reader(self, source: str) -> Getter:
        segments = split_path(source)
        if segments is None:
            raise SourceError(f"'{source}' is not a field path: a segment is empty")
        return path_reader(segments)

    def domain(self, source: str) -> Domain | None:
        return None


Scope = InputScope | RecordScope


def _attribute_domains(definitions: Iterable[ServiceDefinition]) -> dict[str, Domain]:
    """The values of each list attribute, where every service declaring it lists them."""
    declared: dict[str, list[Attribute]] = {}
    for definition in definitions:
        for attribute in definition.attributes:
            declared.setdefault(attribute.code, []).append(attribute)
    return {
        f"{ATTRIBUTE_PREFIX}{code}": Domain(
            f"a value of attribute '{code}'",
            frozenset(value.key for attribute in attributes for value in attribute.values),
            complete=False,
        )
        for code, attributes in declared.items()
        if all(attribute.datatype in LIST_DATATYPES for attribute in attributes)
    }


def new_request_scope(
    service_codes: Collection[str], definitions: Iterable[ServiceDefinition]
) -> InputScope:
    domains = _attribute_domains(definitions)
    if service_codes:
        domains["service_code"] = Domain(
            "a service code of this mapping", frozenset(service_codes), complete=True
        )
    return InputScope("a new Open311 request", _NEW_REQUEST, domains, attributes=True)


def new_update_scope() -> InputScope:
    statuses = Domain("a citizen update status", CITIZEN_STATUSES, complete=False)
    return InputScope("a citizen's update", _NEW_UPDATE, {"status": statuses})
