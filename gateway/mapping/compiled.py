"""A mapping compiled into plain callables, applied on every request without re-parsing.

Loading (`gateway.mapping.loader`) checks the file and builds these; applying them is
a loop over prepared closures, cheap enough for the POST path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

from connectors.base import BackendQuery, Range, Record
from gateway.mapping.context import MappingContext
from gateway.mapping.errors import MappingError
from gateway.mapping.sources import Getter
from gateway.mapping.targets import Coerce, ModelTarget
from gateway.open311.models import (
    NewRequestUpdate,
    NewServiceRequest,
    RequestQuery,
    RequestUpdate,
    Service,
    ServiceDefinition,
    ServiceRequest,
)

if TYPE_CHECKING:
    from gateway.mapping.backend_catalogue import BackendCatalogue

M = TypeVar("M", bound=BaseModel)

Step = Callable[[Record, Any, Any], None]
"""Sets one target of a backend record from (subject, context)."""


class ToBackend:
    """Builds a backend record from an Open311 input and the call's context."""

    def __init__(self, steps: Iterable[Step]) -> None:
        self._steps = tuple(steps)

    def __call__(self, subject: Any, context: MappingContext) -> Record:
        record: Record = {}
        for step in self._steps:
            step(record, subject, context)
        return record


@dataclass(frozen=True, slots=True)
class FieldReader:
    name: str
    get: Getter
    coerce: Coerce | None


def _read(field: FieldReader, record: Record) -> Any:
    value = field.get(record, None)
    if value is None or field.coerce is None:
        return value
    try:
        return field.coerce(value)
    except MappingError as exc:
        raise MappingError(f"{field.name}: {exc}") from None


class FromBackend(Generic[M]):
    """Builds an Open311 model from a backend record."""

    def __init__(self, target: ModelTarget[M], fields: Iterable[FieldReader]) -> None:
        self.target = target
        self._fields = tuple(fields)

    def values(self, record: Record) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field in self._fields:
            value = _read(field, record)
            if value is not None:
                values[field.name] = value
        return values

    def value(self, record: Record, name: str) -> Any:
        """One field alone, for callers that need no more (the id after a create)."""
        field = next((field for field in self._fields if field.name == name), None)
        return None if field is None else _read(field, record)

    def __call__(self, record: Record) -> M:
        return self.target.build(self.values(record))


@dataclass(frozen=True, slots=True)
class QueryField:
    """The backend field an Open311 filter reads, and how filter values become its values."""

    path: str
    backend_values: Callable[[Iterable[str]], tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class QueryPlan:
    service_code: QueryField
    status: QueryField
    requested_datetime: QueryField

    def __call__(self, query: RequestQuery) -> BackendQuery:
        any_of: dict[str, tuple[Any, ...]] = {}
        if query.service_codes:
            any_of[self.service_code.path] = self.service_code.backend_values(query.service_codes)
        if query.statuses:
            statuses = [status.value for status in query.statuses]
            any_of[self.status.path] = self.status.backend_values(statuses)
        ranges = {}
        if query.start is not None or query.end is not None:
            ranges[self.requested_datetime.path] = Range(query.start, query.end)
        return BackendQuery(
            ids=query.service_request_ids,
            any_of=any_of,
            ranges=ranges,
            order_by=self.requested_datetime.path,
            limit=query.limit,
        )


class CompiledMapping:
    """One jurisdiction's mapping, ready to apply. Build it with `load_mapping`."""

    def __init__(
        self,
        *,
        connector: str,
        backend: dict[str, Any],
        services: tuple[Service, ...],
        definitions: dict[str, ServiceDefinition],
        backend_catalogue: BackendCatalogue | None,
        request_to_backend: ToBackend,
        request_from_backend: FromBackend[ServiceRequest],
        query_plan: QueryPlan,
        update_to_backend: ToBackend | None,
        update_from_backend: FromBackend[RequestUpdate] | None,
    ) -> None:
        self.connector = connector
        self.backend = backend
        self.services = services
        """The services the mapping writes: the whole catalogue, or those added to the
        backend's."""
        self.definitions = definitions
        self.backend_catalogue = backend_catalogue
        """How the catalogue is taken from the backend; None when `services` is all of it."""
        self._request_to_backend = request_to_backend
        self._request_from_backend = request_from_backend
        self._query_plan = query_plan
        self._update_to_backend = update_to_backend
        self._update_from_backend = update_from_backend

    def create_payload(self, request: NewServiceRequest, context: MappingContext) -> Record:
        """The backend record for a new Open311 request."""
        return self._request_to_backend(request, context)

    def service_request(
        self, record: Record, names: Mapping[str, str] | None = None
    ) -> ServiceRequest:
        """The Open311 request a backend record stands for. A service_name the mapping
        does not give is looked up by service_code in `names`: the catalogue served, which
        a backend catalogue's refresh may have renamed since the mapping was loaded."""
        values = self._request_from_backend.values(record)
        if names and "service_name" not in values and "service_code" in values:
            name = names.get(values["service_code"])
            if name is not None:
                values["service_name"] = name
        return self._request_from_backend.target.build(values)

    def service_request_id(self, record: Record) -> str:
        """The Open311 id of a backend record, without building the whole request."""
        value = self._request_from_backend.value(record, "service_request_id")
        if value is None:
            raise MappingError("the backend record has no value for service_request_id")
        return str(value)

    def backend_query(self, query: RequestQuery) -> BackendQuery:
        """The backend search for GET requests' filters (statuses through the status table)."""
        return self._query_plan(query)

    def update_payload(self, update: NewRequestUpdate, context: MappingContext) -> Record:
        """The backend change for a citizen's update."""
        if self._update_to_backend is None:
            raise MappingError("this mapping does not map updates to the backend (updates.create)")
        return self._update_to_backend(update, context)

    def request_update(self, record: Record) -> RequestUpdate:
        """The Open311 update a backend change stands for."""
        if self._update_from_backend is None:
            raise MappingError("this mapping does not read updates from the backend (updates.read)")
        return self._update_from_backend(record)
