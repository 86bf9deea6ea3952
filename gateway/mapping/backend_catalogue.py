"""A service catalogue taken from the backend (`list_services`), changed by the mapping.

```yaml
services:
  from_backend:
    refresh: 300             # seconds between refreshes, at least 10
    read:                    # a backend service record -> an Open311 service, with the
      service_code: code     #   operations of requests.read; service_code and
      service_name: title    #   service_name must be mapped
  overrides:                 # by service code; every key optional
    POT:
      service_name: Pothole  # rename
      hide: true             # leave it out of the catalogue
      group: Roads           # regroup
      groups: [Roads, Pavements]
      add_keywords: [staff]
      attributes: [...]      # its definition (as in a static catalogue); metadata becomes true
  add: [...]                 # services written here (as in a static catalogue), served too
```

A service's attributes are those `read` gives it (`attributes: a list of Open311
attributes`, as an Open311 upstream offers them; most backends have none), or an
override's, which replace them. Its metadata is what `read` gives (false when
unmapped), and true with attributes. `keywords` must read a list (or text split by
the mapping).
Overrides name codes the backend may list only later: one for a code it does not list
is ignored until it does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from connectors.base import Capability, Connector, Record
from gateway.mapping.catalogue import Loc, Report, ServiceEntry, build_catalogue, check_attributes
from gateway.mapping.compiled import FromBackend
from gateway.mapping.errors import MappingError
from gateway.mapping.operations import Operation
from gateway.mapping.targets import ModelTarget
from gateway.open311.models import Attribute, Service, ServiceDefinition

SECTION: Loc = ("services",)


class BackendService(Service):
    """A service as the backend lists it: without metadata unless its record says so,
    with the attributes of its definition when the backend has them."""

    metadata: bool = False
    attributes: tuple[Attribute, ...] = ()

    def service(self) -> Service:
        """The service as served: with metadata when it has attributes."""
        listed = self.model_dump(exclude={"attributes"})
        return Service.model_validate(listed | ({"metadata": True} if self.attributes else {}))


SERVICE = ModelTarget(BackendService, "an Open311 service")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FromBackendSection(_Section):
    refresh: float = Field(default=300.0, ge=10)
    read: dict[str, Operation]


class ServiceOverride(_Section):
    service_name: str | None = None
    hide: bool = False
    group: str | None = None
    groups: tuple[str, ...] | None = None
    add_keywords: tuple[str, ...] = ()
    attributes: tuple[Attribute, ...] = ()

    def apply(self, service: Service) -> Service:
        changes: dict[str, Any] = {}
        if self.service_name is not None:
            changes["service_name"] = self.service_name
        if self.group is not None:
            changes["group"] = self.group
        if self.groups is not None:
            changes["groups"] = self.groups
        if self.add_keywords:
            new = (keyword for keyword in self.add_keywords if keyword not in service.keywords)
            changes["keywords"] = (*service.keywords, *new)
        if self.attributes:
            changes["metadata"] = True
        return Service.model_validate(service.model_dump() | changes)


class BackendServicesSection(_Section):
    from_backend: FromBackendSection
    overrides: dict[str, ServiceOverride] = Field(default_factory=dict)
    add: tuple[ServiceEntry, ...] = ()


def _form_of(section: Any) -> str | None:
    if isinstance(section, list | tuple):
        return "services[list]"
    if isinstance(section, dict):
        return "services[from_backend]"
    return None


ServicesSection = Annotated[
    Annotated[tuple[ServiceEntry, ...], Tag("services[list]")]
    | Annotated[BackendServicesSection, Tag("services[from_backend]")],
    Discriminator(
        _form_of,
        custom_error_type="services",
        custom_error_message="must be a list of services, or a mapping with from_backend",
    ),
]
"""A static catalogue (a list), or one taken from the backend (a mapping). The tags hold
'[' so that located errors leave them out of the key path."""


@dataclass(frozen=True, slots=True)
class CatalogueContents:
    services: tuple[Service, ...]
    definitions: dict[str, ServiceDefinition]
    unmatched_overrides: tuple[str, ...]
    """Codes with an override that the backend did not list."""


class BackendCatalogue:
    """The whole catalogue from the records `list_services` returned, or a `MappingError`.

    A record that does not map, or a code listed twice (by the backend, or by the
    backend and `add`), fails the whole catalogue: half a catalogue is never served.
    """

    def __init__(
        self,
        *,
        refresh: float,
        read: FromBackend[BackendService],
        overrides: Mapping[str, ServiceOverride],
        added: tuple[tuple[Service, ...], dict[str, ServiceDefinition]],
    ) -> None:
        self.refresh = refresh
        self._read = read
        self._overrides = dict(overrides)
        self._override_definitions = {
            code: ServiceDefinition(service_code=code, attributes=override.attributes)
            for code, override in self._overrides.items()
            if override.attributes and not override.hide
        }
        self._added_services, self._added_definitions = added
        self._added_codes = frozenset(service.service_code for service in self._added_services)

    def override_definitions(self) -> tuple[ServiceDefinition, ...]:
        """The definitions overrides give backend services: known at load, so that what
        a mapping compares a request's attributes with is checked as for a static one."""
        return tuple(self._override_definitions.values())

    def build(self, records: Sequence[Record]) -> CatalogueContents:
        services: list[Service] = []
        definitions: dict[str, ServiceDefinition] = {}
        listed: set[str] = set()
        for index, record in enumerate(records):
            try:
                service = self._read(record)
            except MappingError as exc:
                raise MappingError(f"service record {index}: {exc}") from None
            code = service.service_code
            if code in listed:
                raise MappingError(f"service code '{code}' is listed twice by the backend")
            if code in self._added_codes:
                raise MappingError(
                    f"service code '{code}' is listed by the backend and added by the mapping"
                )
            listed.add(code)
            override = self._overrides.get(code)
            if override is not None and override.hide:
                continue
            served = service.service()
            services.append(served if override is None else override.apply(served))
            definition = self._override_definitions.get(code) or _definition(service)
            if definition is not None:
                definitions[code] = definition
        return CatalogueContents(
            services=(*services, *self._added_services),
            definitions=definitions | self._added_definitions,
            unmatched_overrides=tuple(sorted(self._overrides.keys() - listed)),
        )


def _definition(service: BackendService) -> ServiceDefinition | None:
    """The definition the backend gives a service; a MappingError when it is not one."""
    if not service.attributes:
        return None
    problems: list[str] = []
    check_attributes(
        service.attributes,
        (),
        lambda loc, message: problems.append(f"{'.'.join(map(str, loc))}: {message}"),
    )
    if problems:
        raise MappingError(f"service '{service.service_code}': {'; '.join(problems)}")
    return ServiceDefinition(service_code=service.service_code, attributes=service.attributes)


ReadCompiler = Callable[[Loc, dict[str, Operation], ModelTarget[Any]], FromBackend[Any]]
"""The loader's compiler of a `read` section into a `FromBackend`."""


def compile_services(
    section: tuple[ServiceEntry, ...] | BackendServicesSection,
    report: Report,
    compile_read: ReadCompiler,
    connector: type[Connector] | None,
    backend: Mapping[str, Any],
) -> tuple[tuple[Service, ...], dict[str, ServiceDefinition], BackendCatalogue | None]:
    """The services the mapping writes, their definitions, and how to take the rest from
    the backend (None for a static catalogue); problems go to `report`."""
    if not isinstance(section, BackendServicesSection):
        return (*build_catalogue(section, report), None)
    loc: Loc = (*SECTION, "from_backend")
    if connector is not None and Capability.LIST_SERVICES not in connector.capabilities_for(
        backend
    ):
        report(loc, f"the {connector.kind} connector cannot list services with this backend")
    read = compile_read((*loc, "read"), section.from_backend.read, SERVICE)
    added = build_catalogue(section.add, report, (*SECTION, "add"))
    added_at: dict[str, int] = {}
    for index, entry in enumerate(section.add):
        added_at.setdefault(entry.service_code, index)
    for code, override in section.overrides.items():
        at: Loc = (*SECTION, "overrides", code)
        if code in added_at:
            report(at, f"'{code}' is added by services.add.{added_at[code]}: change it there")
        check_attributes(override.attributes, at, report)
    catalogue = BackendCatalogue(
        refresh=section.from_backend.refresh,
        read=read,
        overrides=section.overrides,
        added=added,
    )
    return (*added, catalogue)
