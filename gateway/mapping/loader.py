"""Loading a mapping file: shape, then names and consistency, then plain callables.

Shape errors (unknown keys, wrong types, missing sections) are reported first, all at
once, as pydantic finds them. Once the shape is right, every name is resolved (sources,
template placeholders, condition fields, tables, time zones, Open311 fields), tables
and conditions are checked against the codes they compare with, options against each
other, and the catalogue and the backend description are checked; those problems are
reported all at once too. Each message reads `file:line:col: key.path: message`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from connectors.base import Connector
from connectors.registry import ConnectorNotFound, connector_class
from gateway.mapping.backend_catalogue import compile_services
from gateway.mapping.compiled import (
    CompiledMapping,
    FieldReader,
    FromBackend,
    QueryField,
    QueryPlan,
    TargetWriter,
    ToBackend,
)
from gateway.mapping.document import Entries, MappingFile
from gateway.mapping.entries import EntryCompiler
from gateway.mapping.modifiers import Value
from gateway.mapping.operations import Take
from gateway.mapping.paths import Segments, container_clashes, path_writer, split_path
from gateway.mapping.sources import RecordScope, Scope, new_request_scope, new_update_scope
from gateway.mapping.tables import Lookup
from gateway.mapping.targets import ModelTarget
from gateway.open311.models import RequestUpdate, ServiceRequest
from gateway.yamlfile import FileErrors, YamlDocument

Loc = tuple[str | int, ...]

REQUEST = ModelTarget(ServiceRequest, "an Open311 request")
UPDATE = ModelTarget(RequestUpdate, "an Open311 request update")
SEARCHED_FIELDS = ("service_code", "status", "requested_datetime")
UNSEARCHABLE = ("split", "join", "convert", "truncate")
"""Modifiers a searched field cannot use: a filter value could not be turned back."""


def load_mapping(path: str | Path, *, connector: type[Connector] | None = None) -> CompiledMapping:
    """Load, check and compile a mapping file; raises `FileErrors` listing every problem.

    The connector the file names is looked up among those installed, unless `connector`
    is given and registered under that name (its `kind`): a connector's own tests check
    it through a mapping before it is packaged."""
    document = YamlDocument.load(path)
    return _Compiler(document, document.validate(MappingFile), connector).compile()


class _NamedConnector(BaseModel):
    connector: str = Field(min_length=1)


def declared_connector(path: str | Path) -> str:
    """The connector kind a mapping file names, read without checking the rest of the file
    (which needs that connector); raises `FileErrors` when it names none."""
    return YamlDocument.load(path).validate(_NamedConnector).connector


class _Compiler:
    def __init__(
        self, document: YamlDocument, file: MappingFile, connector: type[Connector] | None
    ) -> None:
        self.document = document
        self.file = file
        self.connector = connector
        self.tables = {name: Lookup(name, table) for name, table in file.tables.items()}
        self.problems: dict[str, None] = {}
        self.records = RecordScope()
        self.entries = EntryCompiler(self.tables, self.report)

    def report(self, loc: Loc, message: str) -> None:
        key = ".".join(str(part) for part in loc)
        self.problems[f"{self.document.locate(loc)}: {key}: {message}"] = None

    def compile(self) -> CompiledMapping:
        file = self.file
        connector = self._check_backend()
        services, definitions, backend_catalogue = compile_services(
            file.services, self.report, self._from_backend, connector, file.backend
        )
        codes = [service.service_code for service in services] if backend_catalogue is None else []
        declared = [*definitions.values()]
        if backend_catalogue is not None:
            declared.extend(backend_catalogue.override_definitions())
        request_scope = new_request_scope(codes, declared)
        requests = file.requests
        request_to_backend = self._to_backend(
            ("requests", "create"), requests.create, request_scope
        )
        request_from_backend = self._from_backend(("requests", "read"), requests.read, REQUEST)
        query_plan = self._query_plan(("requests", "read"), requests.read)
        updates = file.updates
        update_to_backend = update_from_backend = None
        if updates.create is not None:
            update_to_backend = self._to_backend(
                ("updates", "create"), updates.create, new_update_scope()
            )
        if updates.read is not None:
            update_from_backend = self._from_backend(("updates", "read"), updates.read, UPDATE)
        if self.problems or query_plan is None:
            raise FileErrors(list(self.problems))
        return CompiledMapping(
            connector=file.connector,
            backend=file.backend,
            services=services,
            definitions=definitions,
            backend_catalogue=backend_catalogue,
            request_to_backend=request_to_backend,
            request_from_backend=request_from_backend,
            query_plan=query_plan,
            update_to_backend=update_to_backend,
            update_from_backend=update_from_backend,
        )

    def _check_backend(self) -> type[Connector] | None:
        """The backend section against the connector's own model of it, when it has one;
        the connector class, None when none is installed under the mapping's name."""
        try:
            if self.connector is not None and self.connector.kind == self.file.connector:
                connector = self.connector
            else:
                connector = connector_class(self.file.connector)
        except ConnectorNotFound as exc:
            self.report(("connector",), str(exc))
            return None
        if connector.schema_model is None:
            return connector
        try:
            connector.schema_model.model_validate(self.file.backend)
        except ValidationError as exc:
            for message in self.document.describe(exc, prefix=("backend",)):
                self.problems[message] = None
        return connector

    def _to_backend(self, loc: Loc, entries: Entries, scope: Scope) -> ToBackend:
        writers = []
        targets: dict[Segments, str] = {}
        for target, operation in entries.items():
            segments = split_path(target)
            if segments is None:
                self.report((*loc, target), f"'{target}' is not a field path: a segment is empty")
                continue
            targets[segments] = target
            value = self.entries.value((*loc, target), operation, scope)
            if value is not None:
                writers.append(_writer(target, segments, value))
        for segments, target in targets.items():
            for end in range(1, len(segments)):
                if segments[:end] in targets:
                    self.report(
                        (*loc, target),
                        f"'{target}' is inside '{targets[segments[:end]]}', which is mapped too",
                    )
        for clash in container_clashes(targets):
            kind = "a list" if clash.earlier_makes_list else "a record"
            self.report(
                (*loc, targets[clash.path]),
                f"'{'.'.join(clash.container)}' cannot be both a list and a record: "
                f"'{targets[clash.earlier]}' makes it {kind}",
            )
        return ToBackend(writers)

    def _from_backend(
        self, loc: Loc, entries: Entries, target: ModelTarget[Any]
    ) -> FromBackend[Any]:
        fields = []
        for name, operation in entries.items():
            if name not in target.fields:
                self.report(
                    (*loc, name),
                    f"'{name}' is not a field of {target.described_as} "
                    f"(fields: {', '.join(target.fields)})",
                )
                continue
            choices = target.choices(name)
            if choices is not None:
                self.entries.check_enumerated(
                    (*loc, name), operation, choices, name, target.described_as
                )
            value = self.entries.value((*loc, name), operation, self.records)
            if value is not None:
                fields.append(FieldReader(name, value, *target.coercion(name)))
        missing = [name for name in target.required if name not in entries]
        if missing:
            self.report(
                loc, f"{', '.join(missing)} must be mapped: {target.described_as} needs them"
            )
        return FromBackend(target, fields)

    def _query_plan(self, loc: Loc, entries: Entries) -> QueryPlan | None:
        """How GET requests' filters read the backend, derived from `requests.read`."""
        fields: dict[str, QueryField] = {}
        for name in SEARCHED_FIELDS:
            operation = entries.get(name)
            if operation is None:
                continue
            if not isinstance(operation, Take):
                self.report(
                    (*loc, name),
                    f"{name} must be read with 'from', so that requests can be searched by it",
                )
                continue
            changed = [option for option in UNSEARCHABLE if getattr(operation, option) is not None]
            for option in changed:
                self.report(
                    (*loc, name, option),
                    f"requests are searched by {name}, so it cannot use {option} "
                    "(only table, reverse and default)",
                )
            if changed:
                continue
            fields[name] = QueryField(operation.source, self._backend_values(operation))
        if len(fields) < len(SEARCHED_FIELDS):
            return None
        return QueryPlan(**fields)

    def _backend_values(self, operation: Take) -> Callable[[Iterable[str]], tuple[Any, ...]]:
        lookup = self.tables.get(operation.table) if operation.table else None
        if lookup is None:
            return tuple
        return lookup.values_for if operation.reverse else lookup.keys_giving


def _writer(target: str, segments: Segments, value: Value) -> TargetWriter:
    key, *rest = segments
    if len(rest) == 1 and not rest[0].isdigit():
        return TargetWriter(target, key, rest[0], None, value)
    return TargetWriter(target, key, None, path_writer(segments) if rest else None, value)
