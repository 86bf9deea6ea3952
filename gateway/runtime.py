"""Everything a running gateway holds: the store, the jurisdictions and their connectors.

Built from a `Config` once; `start` and `close` are its explicit lifecycle, used by the
HTTP application and by the CLI alike. Catalogues taken from a backend are loaded on
start (a backend that is down delays nothing: its catalogue follows when it answers)
and refreshed in the background until close.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from gateway.catalogue_refresh import CatalogueRefresher
from gateway.config import Config
from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.open311.models import Discovery, Endpoint
from gateway.open311.render import Format, render_discovery
from gateway.store import Store
from gateway.tenants import TenantRegistry, build_tenant

log = get_logger(__name__)


@dataclass(eq=False)
class Runtime:
    config: Config
    config_files: list[Path] = field(default_factory=list)
    store: Store = field(init=False)
    tenants: TenantRegistry = field(init=False)
    metrics: Metrics = field(init=False)

    def __post_init__(self) -> None:
        self.store = Store(self.config.gateway.store_url)
        self.metrics = Metrics()
        self.tenants = TenantRegistry(
            [build_tenant(j, self.metrics) for j in self.config.jurisdictions]
        )

    async def start(self) -> None:
        await self.store.start()
        started = []
        try:
            for tenant in self.tenants:
                await tenant.connector.start()
                started.append(tenant)
                log.info(
                    "jurisdiction_started", jurisdiction=tenant.id, connector=tenant.connector.kind
                )
            await asyncio.gather(*(refresher.start() for refresher in self._refreshers()))
        except BaseException:
            for refresher in self._refreshers():
                await refresher.close()
            for tenant in started:
                await tenant.connector.close()
            await self.store.close()
            raise

    async def close(self) -> None:
        for refresher in self._refreshers():
            await refresher.close()
        for tenant in self.tenants:
            await tenant.connector.close()
        await self.store.close()

    def _refreshers(self) -> list[CatalogueRefresher]:
        return [tenant.refresher for tenant in self.tenants if tenant.refresher is not None]

    @cache  # noqa: B019 - the discovery document lives as long as the runtime
    def discovery_document(self, fmt: Format) -> bytes:
        settings = self.config.gateway
        files = [*self.config_files, *(j.mapping for j in self.config.jurisdictions)]
        changeset = self.config.changeset(files)
        endpoint = Endpoint(
            url=settings.base_url.rstrip("/") + settings.base_path,
            changeset=changeset,
            type=settings.environment,
        )
        discovery = Discovery(
            changeset=changeset,
            contact=settings.contact,
            key_service=settings.key_service,
            endpoints=(endpoint,),
        )
        return render_discovery(discovery, fmt)
