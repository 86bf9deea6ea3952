"""The static service catalogue written in a mapping, checked as a whole at load.

Each entry is an Open311 service with its attributes beside it; the catalogue splits
them into the `services` list and the per-service definitions the edge serves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gateway.open311.models import Attribute, Datatype, Service, ServiceDefinition

LIST_DATATYPES = frozenset({Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST})

Loc = tuple[str | int, ...]
Report = Callable[[Loc, str], None]


class ServiceEntry(Service):
    """A service as a mapping file writes it: the service and its attributes together."""

    attributes: tuple[Attribute, ...] = ()

    def service(self) -> Service:
        return Service.model_validate(self.model_dump(exclude={"attributes"}))

    def definition(self) -> ServiceDefinition:
        return ServiceDefinition(service_code=self.service_code, attributes=self.attributes)


def build_catalogue(
    entries: Sequence[ServiceEntry], report: Report, at: Loc = ("services",)
) -> tuple[tuple[Service, ...], dict[str, ServiceDefinition]]:
    """Services and definitions (for services with metadata); problems go to `report`,
    located under `at` (where the list of entries is in the file)."""
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        loc: Loc = (*at, index)
        if entry.service_code in first_index:
            first = ".".join(map(str, (*at, first_index[entry.service_code])))
            report(
                (*loc, "service_code"),
                f"service code '{entry.service_code}' is already used by {first}",
            )
        first_index.setdefault(entry.service_code, index)
        if entry.metadata and not entry.attributes:
            report((*loc, "metadata"), "metadata is true but the service lists no attributes")
        if entry.attributes and not entry.metadata:
            report((*loc, "metadata"), "metadata is false but the service lists attributes")
        check_attributes(entry.attributes, loc, report)
    services = tuple(entry.service() for entry in entries)
    definitions = {entry.service_code: entry.definition() for entry in entries if entry.metadata}
    return services, definitions


def check_attributes(attributes: Sequence[Attribute], service: Loc, report: Report) -> None:
    """Codes and orders unique, values exactly where the datatype is a list."""
    codes: set[str] = set()
    orders: dict[int, str] = {}
    for index, attribute in enumerate(attributes):
        loc: Loc = (*service, "attributes", index)
        if attribute.code in codes:
            report((*loc, "code"), f"attribute code '{attribute.code}' is already used")
        if attribute.order in orders:
            report(
                (*loc, "order"),
                f"order {attribute.order} is already used by attribute '{orders[attribute.order]}'",
            )
        codes.add(attribute.code)
        orders.setdefault(attribute.order, attribute.code)
        is_list = attribute.datatype in LIST_DATATYPES
        if is_list and not attribute.values:
            report((*loc, "values"), f"a {attribute.datatype} attribute needs values")
        if attribute.values and not is_list:
            report(
                (*loc, "values"),
                "values are only for singlevaluelist and multivaluelist attributes",
            )
