"""A jurisdiction's service catalogue, with its rendered forms kept ready.

The catalogue changes only when it is replaced as a whole (a refresh from the backend
swaps in a new one), so each resource is rendered once per format per catalogue and
served as bytes; the old catalogue and its bytes go with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.open311.errors import not_found, unavailable
from gateway.open311.models import Service, ServiceDefinition
from gateway.open311.render import Format, render_service_definition, render_services


class Catalogue:
    def __init__(
        self, services: Sequence[Service], definitions: Mapping[str, ServiceDefinition]
    ) -> None:
        self.services = tuple(services)
        self._by_code = {service.service_code: service for service in self.services}
        self.names = {service.service_code: service.service_name for service in self.services}
        """Service names by code, for requests read from the backend."""
        self._definitions = dict(definitions)
        self._services_documents: dict[Format, bytes] = {}
        self._definition_documents: dict[tuple[str, Format], bytes] = {}

    def service(self, code: str) -> Service:
        try:
            return self._by_code[code]
        except KeyError:
            raise not_found(f"service_code: no service '{code}'") from None

    def has(self, code: str) -> bool:
        return code in self._by_code

    def definition(self, code: str) -> ServiceDefinition:
        service = self.service(code)
        return self._definitions.get(code) or ServiceDefinition(service_code=service.service_code)

    def services_document(self, fmt: Format) -> bytes:
        document = self._services_documents.get(fmt)
        if document is None:
            document = self._services_documents[fmt] = render_services(self.services, fmt)
        return document

    def definition_document(self, code: str, fmt: Format) -> bytes:
        document = self._definition_documents.get((code, fmt))
        if document is None:
            document = render_service_definition(self.definition(code), fmt)
            self._definition_documents[code, fmt] = document
        return document


class CatalogueHolder:
    """The catalogue a jurisdiction serves now: replaced whole, never edited in place.

    A catalogue taken from the backend exists only once the backend has listed its
    services; until then the routes that need it answer 503.
    """

    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self._catalogue = catalogue

    @property
    def loaded(self) -> Catalogue | None:
        return self._catalogue

    def current(self) -> Catalogue:
        """The catalogue served now; a 503 with Retry-After while there is none yet."""
        if self._catalogue is None:
            raise unavailable("services: the catalogue is not loaded from the backend yet")
        return self._catalogue

    def swap(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue
