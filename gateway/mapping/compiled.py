"""A mapping compiled into plain callables, applied on every request without re-parsing.

Loading (`gateway.mapping.loader`) checks the file and builds these; applying them is
a loop over prepared closures, cheap enough for the POST path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from pydantic import BaseModel

from connectors.base import BackendQuery, Range, Record
from gateway.mapping.context import MappingContext
from gateway.mapping.conversions import Transform
from gateway.mapping.errors import MappingError
from gateway.mapping.modifiers import Value, each
from gateway.mapping.sources import Getter, Inputs
from gateway.mapping.targets import Coerce, ModelTarget
from gateway.mapping.values import LISTS, kind_of
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

Writer = Callable[[Record, Any], None]


class TargetWriter(NamedTuple):
    """One target of a backend record: where it goes and how its value is got."""

    target: str
    key: str
    """The record's own field, set directly when `field` and `write` are None."""
    field: str | None
    """The field of the sub-record at `key` (a path of two names, `contact.email`),
    set by the section loop itself."""
    write: Writer | None
    """How any other path (deeper, or through a list) is written."""
    value: Value


_CONSTANT, _READ, _CHANGE = 0, 1, 2
"""How a step gets its value: fixed (its default), a source's value as it is, or a
source's value through the modifiers."""


def _shape(value: Value) -> tuple[int, Getter | None, Transform | None, Any]:
    """The step parts of a `Value`: its kind, then its read, change and default."""
    read, change, default = value
    kind = _CONSTANT if read is None else _READ if change is None else _CHANGE
    return kind, read, change, default


def _gives_a_value(value: Value) -> bool:
    """Whether a `Value` can have one: a constant null never has."""
    return value.read is not None or value.default is not None


class ToBackend:
    """Builds a backend record from an Open311 input and the call's context.

    Each target is one plain tuple (unpacked at C speed, unlike a NamedTuple) that
    the loop applies itself, as `Value.getter` would, so a target costs no frame
    of its own: this runs once per target on every POST.
    """

    def __init__(self, writers: Iterable[TargetWriter]) -> None:
        self._steps = tuple(
            (writer.target, writer.key, writer.field, writer.write, *_shape(writer.value))
            for writer in writers
            if _gives_a_value(writer.value)
        )

    def __call__(self, inputs: Inputs) -> Record:
        record: Record = {}
        try:
            for target, key, field, write, kind, read, change, default in self._steps:  # noqa: B007 - named in the error
                if kind is _CONSTANT:
                    value = default
                else:
                    value = read(inputs)
                    if value is not None and kind is _CHANGE:
                        if value.__class__ is str or not isinstance(value, LISTS):
                            value = change(value)
                        else:
                            value = each(change, value)
                    if value is None:
                        if default is None:
                            continue
                        value = default
                if write is not None:
                    write(record, value)
                elif field is None:
                    record[key] = value
                else:
                    node = record.get(key)
                    if node is None:
                        node = record[key] = {}
                    node[field] = value
        except MappingError as exc:
            raise MappingError(f"{target}: {exc}") from None
        return record


class FieldReader(NamedTuple):
    """One field of an Open311 model: how its value is got, and made to fit the field."""

    name: str
    value: Value
    coerce: Coerce | None
    fits: type | None
    """Values of exactly this type need no coercion (text for a text field)."""


def _checked(record: Any) -> Record:
    if not isinstance(record, dict):
        raise MappingError(f"the backend gave {kind_of(record)}, not a record")
    return record


class FromBackend(Generic[M]):
    """Builds an Open311 model from a backend record.

    Like `ToBackend`, one plain tuple a field, applied by the loop itself: it runs
    once per field of every record a search returns.
    """

    def __init__(self, target: ModelTarget[M], fields: Iterable[FieldReader]) -> None:
        self.target = target
        self._fields = tuple(fields)
        self._getters = {field.name: field.value.getter() for field in self._fields}
        self._steps = tuple(
            (field.name, *_shape(field.value), field.coerce, field.fits)
            for field in self._fields
            if _gives_a_value(field.value)
        )

    def values(self, record: Record) -> dict[str, Any]:
        record = _checked(record)
        values: dict[str, Any] = {}
        try:
            for name, kind, read, change, default, coerce, fits in self._steps:
                if kind is _CONSTANT:
                    value = default
                else:
                    value = read(record)
                    if value is not None and kind is _CHANGE:
                        if value.__class__ is str or not isinstance(value, LISTS):
                            value = change(value)
                        else:
                            value = each(change, value)
                    if value is None:
                        if default is None:
                            continue
                        value = default
                if coerce is not None and value.__class__ is not fits:
                    value = coerce(value)
                values[name] = value
        except MappingError as exc:
            raise MappingError(f"{name}: {exc}") from None
        return values

    def value(self, record: Record, name: str) -> Any:
        """One field alone, for callers that need no more (the id after a create)."""
        field = next((field for field in self._fields if field.name == name), None)
        if field is None:
            return None
        try:
            value = self._getters[name](_checked(record))
            return None if value is None or field.coerce is None else field.coerce(value)
        except MappingError as exc:
            raise MappingError(f"{name}: {exc}") from None

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
        return self._request_to_backend(Inputs(request, context))

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

    @property
    def writes_updates(self) -> bool:
        """Whether citizens' updates map to the backend (an `updates.create` section)."""
        return self._update_to_backend is not None

    @property
    def reads_updates(self) -> bool:
        """Whether backend changes map to Open311 updates (an `updates.read` section)."""
        return self._update_from_backend is not None

    def backend_query(self, query: RequestQuery) -> BackendQuery:
        """The backend search for GET requests' filters (statuses through the status table)."""
        return self._query_plan(query)

    def update_payload(self, update: NewRequestUpdate, context: MappingContext) -> Record:
        """The backend change for a citizen's update."""
        if self._update_to_backend is None:
            raise MappingError("this mapping does not map updates to the backend (updates.create)")
        return self._update_to_backend(Inputs(update, context))

    def request_update(self, record: Record) -> RequestUpdate:
        """The Open311 update a backend change stands for."""
        if self._update_from_backend is None:
            raise MappingError("this mapping does not read updates from the backend (updates.read)")
        return self._update_from_backend(record)
