"""Loading a mapping file: shape, then names and consistency, then plain callables.

Shape errors (unknown keys, wrong types, missing sections) are reported first, all at
once, as pydantic finds them. Once the shape is right, every name is resolved (sources,
tables, Open311 fields), tables are checked against the codes they translate, and the
catalogue and the backend description are checked; those problems are reported all at
once too. Each message reads `file:line:col: key.path: message`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from connectors.base import Connector
from connectors.registry import ConnectorNotFound, connector_class
from gateway.mapping.backend_catalogue import compile_services
from gateway.mapping.compiled import (
    CompiledMapping,
    FieldReader,
    FromBackend,
    QueryField,
    QueryPlan,
    Step,
    ToBackend,
)
from gateway.mapping.document import Entries, MappingFile
from gateway.mapping.operations import Constant, Take
from gateway.mapping.paths import Segments, path_writer, split_path
from gateway.mapping.sources import (
    Getter,
    RecordScope,
    Scope,
    SourceError,
    new_request_scope,
    new_update_scope,
)
from gateway.mapping.tables import Lookup, table_key
from gateway.mapping.targets import ModelTarget
from gateway.open311.models import RequestUpdate, ServiceRequest
from gateway.yamlfile import FileErrors, YamlDocument

Loc = tuple[str | int, ...]

REQUEST = ModelTarget(ServiceRequest, "an Open311 request")
UPDATE = ModelTarget(RequestUpdate, "an Open311 request update")
SEARCHED_FIELDS = ("service_code", "status", "requested_datetime")


def load_mapping(path: str | Path) -> CompiledMapping:
    """Load, check and compile a mapping file; raises `FileErrors` listing every problem."""
    document = YamlDocument.load(path)
    return _Compiler(document, document.validate(MappingFile)).compile()


class _Compiler:
    def __init__(self, document: YamlDocument, file: MappingFile) -> None:
        self.document = document
        self.file = file
        self.tables = {name: Lookup(name, table) for name, table in file.tables.items()}
        self.problems: dict[str, None] = {}
        self.records = RecordScope()

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
        request_scope = new_request_scope(codes)
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
        steps = []
        targets: dict[Segments, str] = {}
        for target, operation in entries.items():
            segments = split_path(target)
            if segments is None:
                self.report((*loc, target), f"'{target}' is not a field path: a segment is empty")
                continue
            targets[segments] = target
            get = self._getter((*loc, target), operation, scope)
            if get is not None:
                steps.append(_step(segments, get))
        for segments, target in targets.items():
            for end in range(1, len(segments)):
                if segments[:end] in targets:
                    self.report(
                        (*loc, target),
                        f"'{target}' is inside '{targets[segments[:end]]}', which is mapped too",
                    )
        return ToBackend(steps)

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
                self._check_choices((*loc, name), operation, choices, name, target)
            get = self._getter((*loc, name), operation, self.records)
            if get is not None:
                fields.append(FieldReader(name, get, target.coercion(name)))
        missing = [name for name in target.required if name not in entries]
        if missing:
            self.report(
                loc, f"{', '.join(missing)} must be mapped: {target.described_as} needs them"
            )
        return FromBackend(target, fields)

    def _getter(self, loc: Loc, operation: Take | Constant, scope: Scope) -> Getter | None:
        if isinstance(operation, Constant):
            value = operation.const
            return lambda _subject, _context: value
        try:
            read = scope.reader(operation.source)
        except SourceError as exc:
            self.report((*loc, "from"), str(exc))
            return None
        translate = self._translation(loc, operation, scope)
        default = operation.default
        if translate is None:
            if default is None:
                return read
            return lambda subject, context: default if (v := read(subject, context)) is None else v

        def get(subject: Any, context: Any) -> Any:
            value = read(subject, context)
            return default if value is None else translate(value)

        return get

    def _lookup(self, loc: Loc, operation: Take) -> Lookup | None:
        if operation.table is None:
            if operation.reverse:
                self.report((*loc, "reverse"), "reverse reads a table backwards: name the table")
            return None
        lookup = self.tables.get(operation.table)
        if lookup is None:
            known = ", ".join(self.tables) or "none"
            self.report((*loc, "table"), f"no table '{operation.table}' (tables: {known})")
        return lookup

    def _translation(self, loc: Loc, operation: Take, scope: Scope) -> Callable[[Any], Any] | None:
        lookup = self._lookup(loc, operation)
        if lookup is None:
            return None
        if operation.reverse:
            shared = lookup.shared_values()
            if shared:
                self.report(
                    (*loc, "reverse"),
                    f"table '{lookup.name}' cannot be read backwards: several keys give "
                    + ", ".join(f"'{value}'" for value in shared),
                )
            return lookup.backwards(operation.source)
        domain = scope.domain(operation.source)
        if domain is not None:
            for key in lookup.table.values:
                if key not in domain.values:
                    self.report(
                        ("tables", lookup.name, "values", key),
                        f"'{key}' is not {domain.described_as}",
                    )
            missing = sorted(domain.values - lookup.table.values.keys())
            if domain.complete and missing and not lookup.table.has_fallback:
                self.report(
                    (*loc, "table"),
                    f"table '{lookup.name}' has no entry for {', '.join(missing)} and no fallback",
                )
        return lookup.forward(operation.source)

    def _check_choices(
        self,
        loc: Loc,
        operation: Take | Constant,
        choices: tuple[str, ...],
        name: str,
        target: ModelTarget[Any],
    ) -> None:
        """Every value a mapping can give an enumerated field must be one it accepts."""
        for where, value in self._outputs(loc, operation):
            if value is not None and table_key(value) not in choices:
                self.report(
                    where,
                    f"'{value}' cannot be the {name} of {target.described_as} "
                    f"({', '.join(choices)})",
                )

    def _outputs(self, loc: Loc, operation: Take | Constant) -> Iterable[tuple[Loc, Any]]:
        """The values an operation can give that are known at load, and where each is."""
        if isinstance(operation, Constant):
            yield (*loc, "const"), operation.const
            return
        yield (*loc, "default"), operation.default
        lookup = self.tables.get(operation.table) if operation.table else None
        if lookup is None:
            return
        for key, value in lookup.table.values.items():
            given = key if operation.reverse else value
            yield ("tables", lookup.name, "values", key), given
        if lookup.table.has_fallback:
            yield ("tables", lookup.name, "fallback"), lookup.table.fallback

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
            fields[name] = QueryField(operation.source, self._backend_values(operation))
        if len(fields) < len(SEARCHED_FIELDS):
            return None
        return QueryPlan(**fields)

    def _backend_values(self, operation: Take) -> Callable[[Iterable[str]], tuple[Any, ...]]:
        lookup = self.tables.get(operation.table) if operation.table else None
        if lookup is None:
            return tuple
        return lookup.values_for if operation.reverse else lookup.keys_giving


def _step(segments: Segments, get: Getter) -> Step:
    write = path_writer(segments)

    def step(record: dict[str, Any], subject: Any, context: Any) -> None:
        value = get(subject, context)
        if value is not None:
            write(record, value)

    return step
