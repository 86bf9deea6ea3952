"""Jurisdictions (tenants): each one a mapping, a connector, a catalogue and its API keys."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from connectors.base import Connector
from connectors.registry import connector_class
from gateway import apikeys
from gateway.backend import Backend
from gateway.catalogue import Catalogue, CatalogueHolder
from gateway.catalogue_refresh import CatalogueRefresher
from gateway.config import JurisdictionConfig
from gateway.mapping import CompiledMapping, load_mapping
from gateway.metrics import Metrics
from gateway.open311.errors import bad_request, forbidden, not_found


@dataclass(slots=True)
class Tenant:
    id: str
    name: str
    mapping: CompiledMapping
    connector: Connector
    backend: Backend
    catalogue: CatalogueHolder
    api_key_hashes: tuple[str, ...]
    sync_wait: float
    """Seconds a POST to a realtime service waits for the backend's id."""
    idempotency_param: str | None
    """The POST parameter whose value identifies a report in the client's system."""
    fingerprint_window: float
    """Seconds within which a request sent again without a key is a repeat."""
    refresher: CatalogueRefresher | None = None
    """Keeps a catalogue taken from the backend fresh; None for a static catalogue."""

    def authenticate(self, api_key: str | None) -> None:
        """Raise 403 unless `api_key` is one of this jurisdiction's keys."""
        if not api_key:
            raise forbidden("api_key: required")
        if not apikeys.matches(api_key, self.api_key_hashes):
            raise forbidden("api_key: not valid for this jurisdiction")


def build_tenant(config: JurisdictionConfig, metrics: Metrics) -> Tenant:
    """Load the mapping and instantiate the connector; raises on a broken mapping."""
    mapping = load_mapping(config.mapping)
    cls = connector_class(config.connector.kind or mapping.connector)
    connector = cls(config.connector.settings, mapping.backend, timeout=config.connector.timeout)
    source = mapping.backend_catalogue
    if source is None:
        catalogue = CatalogueHolder(Catalogue(mapping.services, mapping.definitions))
        refresher = None
    else:
        catalogue = CatalogueHolder()
        refresher = CatalogueRefresher(
            config.id, source, connector, catalogue, interval=source.refresh
        )
    return Tenant(
        id=config.id,
        name=config.name or config.id,
        mapping=mapping,
        connector=connector,
        backend=Backend(config.id, connector, config.connector, metrics),
        catalogue=catalogue,
        api_key_hashes=tuple(config.api_keys),
        sync_wait=config.sync_wait,
        idempotency_param=config.idempotency_param,
        fingerprint_window=config.fingerprint_window,
        refresher=refresher,
    )


class TenantRegistry:
    def __init__(self, tenants: Sequence[Tenant]) -> None:
        self._tenants = {tenant.id: tenant for tenant in tenants}
        self._only = tenants[0] if len(tenants) == 1 else None

    def __iter__(self) -> Iterator[Tenant]:
        return iter(self._tenants.values())

    def get(self, jurisdiction_id: str) -> Tenant | None:
        return self._tenants.get(jurisdiction_id)

    def resolve(self, jurisdiction_id: str | None) -> Tenant:
        """The tenant addressed; a lone tenant may be addressed without an id."""
        if jurisdiction_id:
            tenant = self._tenants.get(jurisdiction_id)
            if tenant is None:
                raise not_found(f"jurisdiction_id: unknown jurisdiction '{jurisdiction_id}'")
            return tenant
        if self._only is not None:
            return self._only
        raise bad_request("jurisdiction_id: required, this server hosts several jurisdictions")
