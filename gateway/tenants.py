"""Jurisdictions (tenants): each one a mapping, a connector, a catalogue and its API keys.

A jurisdiction whose connector cannot be imported is kept apart with the reason: the
gateway serves the others, and answers that one with 503.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from connectors.base import Connector
from connectors.registry import connector_class
from gateway import apikeys
from gateway.backend import Backend
from gateway.catalogue import Catalogue, CatalogueHolder
from gateway.catalogue_refresh import CatalogueRefresher
from gateway.config import CALL_GRACE_SECONDS, JurisdictionConfig
from gateway.connector_start import ConnectorStarter
from gateway.mapping import CompiledMapping, declared_connector, load_mapping
from gateway.metrics import Metrics
from gateway.open311.errors import bad_request, forbidden, not_found, unavailable


@dataclass(slots=True)
class Tenant:
    id: str
    name: str
    mapping: CompiledMapping
    connector: Connector
    starter: ConnectorStarter
    """Starts the connector, and keeps trying in the background while it fails."""
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

    def check_started(self) -> None:
        """Raise 503 while the connector has not started; why is for the logs and /readyz,
        not for clients (it may name internal addresses)."""
        if self.starter.problem is not None:
            raise unavailable(f"jurisdiction {self.id}: its backend is not available yet")


def tenant_connector(config: JurisdictionConfig) -> type[Connector]:
    """The jurisdiction's connector class, found before its mapping is compiled (which
    needs it); raises ConnectorImportFailed when it is installed but broken."""
    return connector_class(config.connector.kind or declared_connector(config.mapping))


def build_tenant(config: JurisdictionConfig, metrics: Metrics) -> Tenant:
    """Load the mapping and instantiate the connector; raises on a broken mapping, and
    ConnectorImportFailed when the connector cannot be imported."""
    cls = tenant_connector(config)
    mapping = load_mapping(config.mapping, connector=cls)
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
        starter=ConnectorStarter(
            config.id, connector, timeout=config.connector.timeout + CALL_GRACE_SECONDS
        ),
        backend=Backend(config.id, connector, config.connector, metrics),
        catalogue=catalogue,
        api_key_hashes=tuple(config.api_keys),
        sync_wait=config.sync_wait,
        idempotency_param=config.idempotency_param,
        fingerprint_window=config.fingerprint_window,
        refresher=refresher,
    )


class TenantRegistry:
    """The tenants served, and the jurisdictions that could not be built, with why."""

    def __init__(self, tenants: Sequence[Tenant], broken: Mapping[str, str] | None = None) -> None:
        self._tenants = {tenant.id: tenant for tenant in tenants}
        self.broken: Mapping[str, str] = dict(broken or {})
        """Jurisdiction id -> why it has no tenant (its connector failed to import)."""
        ids = [*self._tenants, *self.broken]
        self._only = ids[0] if len(ids) == 1 else None

    def __iter__(self) -> Iterator[Tenant]:
        return iter(self._tenants.values())

    def get(self, jurisdiction_id: str) -> Tenant | None:
        return self._tenants.get(jurisdiction_id)

    def resolve(self, jurisdiction_id: str | None) -> Tenant:
        """The tenant addressed; a lone jurisdiction may be addressed without an id."""
        addressed = jurisdiction_id or self._only
        if addressed is None:
            raise bad_request("jurisdiction_id: required, this server hosts several jurisdictions")
        tenant = self._tenants.get(addressed)
        if tenant is not None:
            return tenant
        if addressed in self.broken:
            raise unavailable(f"jurisdiction {addressed}: its connector cannot be loaded")
        raise not_found(f"jurisdiction_id: unknown jurisdiction '{addressed}'")
