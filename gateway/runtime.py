"""Everything a running gateway holds: the store, the queue, the jurisdictions and their
connectors, and the worker delivering queued requests when it runs in this process.

Built from a `Config` once; `start` and `close` are its explicit lifecycle, used by the
HTTP application and by the CLI alike. A connector that fails to import, or to start,
takes down its own jurisdiction only (see `gateway.connector_start`). Catalogues taken
from a backend are loaded once their connector has started (a backend that is down
delays nothing: its catalogue follows when it answers) and refreshed in the background
until close. A runtime built `worker_only` (the `open311-gateway worker` command) serves
nothing: it only delivers.
"""

from __future__ import annotations

import asyncio
import gc
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from connectors.registry import ConnectorImportFailed
from gateway.admission import Admission, SeparateAdmission, SharedFileAdmission, shared_file
from gateway.catalogue_refresh import CatalogueRefresher
from gateway.config import Config, JurisdictionConfig, WorkerMode
from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.open311.models import Discovery, Endpoint
from gateway.open311.render import Format, render_discovery
from gateway.outcomes import LocalOutcomes, Outcomes
from gateway.queue import EmbeddedQueue, JobQueue, QueueUnavailable, is_broker, open_queue
from gateway.queue.amqp_outcomes import AmqpOutcomes
from gateway.queue.leftover import adopt_leftover_queue
from gateway.sqlitefile import SqliteFile
from gateway.store import Store
from gateway.submission import Submissions
from gateway.tenants import Tenant, TenantRegistry, build_tenant
from gateway.worker import Worker

log = get_logger(__name__)


def freeze_startup_objects() -> None:
    """Put what start-up built out of the cyclic collector's sight, for a process that
    serves until it stops: mappings, schemas, connectors and SQLAlchemy metadata live as
    long as the process, and every full collection walked them all, pausing the event
    loop for over 100 ms in a burst of POSTs. Garbage is collected first."""
    gc.collect()
    gc.freeze()


_DEPTH_TIMEOUT = 2.0
"""How long a scrape waits for the queue's depth before showing the last one."""


@dataclass(eq=False)
class Runtime:
    config: Config
    config_files: list[Path] = field(default_factory=list)
    worker_only: bool = False
    shared_file: SqliteFile | None = field(init=False)
    """The SQLite file holding both the store and the embedded queue, when one does."""
    store: Store = field(init=False)
    queue: JobQueue = field(init=False)
    admission: Admission = field(init=False)
    outcomes: Outcomes = field(init=False)
    tenants: TenantRegistry = field(init=False)
    metrics: Metrics = field(init=False)
    submissions: Submissions = field(init=False)
    worker: Worker | None = field(init=False)
    """Delivers queued jobs in this process; None when workers run elsewhere."""
    _running: AsyncExitStack | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        settings = self.config.gateway
        url, prefix = settings.queue_url, settings.queue_prefix
        self.shared_file = shared_file(settings.store_url, url)
        self.store = Store(settings.store_url, shared=self.shared_file)
        if self.shared_file is None:
            self.queue = open_queue(url, prefetch=settings.queue_prefetch, prefix=prefix)
        else:
            self.queue = EmbeddedQueue(self.shared_file)
        self.outcomes = AmqpOutcomes(url, name_prefix=prefix) if is_broker(url) else LocalOutcomes()
        self.metrics = Metrics()
        self.tenants = self._build_tenants(self.config.jurisdictions)
        delivers = self.worker_only or settings.worker.mode is WorkerMode.IN_PROCESS
        self.worker = (
            Worker(
                self.queue,
                self.store,
                self.tenants,
                self.outcomes,
                self.metrics,
                concurrency=settings.worker.concurrency,
                lease_seconds=settings.worker.lease_seconds,
                poll_seconds=settings.worker.poll_seconds,
                backoff=settings.worker.backoff.policy(),
            )
            if delivers
            else None
        )
        if isinstance(self.queue, EmbeddedQueue) and self.shared_file is not None:
            self.admission = SharedFileAdmission(self.shared_file, self.queue, self.worker)
        else:
            self.admission = SeparateAdmission(self.store, self.queue)
        self.submissions = Submissions(
            self.store,
            self.admission,
            self.outcomes,
            poll_store=not delivers and isinstance(self.outcomes, LocalOutcomes),
        )

    async def start(self) -> None:
        """Start every part in order; a failure closes the parts already started."""
        async with AsyncExitStack() as running:
            if self.shared_file is not None:
                await self.shared_file.start()
                running.push_async_callback(self.shared_file.close)
            await self.store.start()
            running.push_async_callback(self.store.close)
            await self.queue.start()
            running.push_async_callback(self.queue.close)
            if self.shared_file is not None:
                await adopt_leftover_queue(self.shared_file)
            for tenant in self.tenants:
                running.push_async_callback(tenant.starter.close)
            await asyncio.gather(
                *(tenant.starter.start(self._dependents(tenant)) for tenant in self.tenants)
            )
            await self.outcomes.start()
            running.push_async_callback(self.outcomes.close)
            if self.worker is not None:
                await self.worker.start()
                running.push_async_callback(self.worker.close)
            self._running = running.pop_all()

    def _build_tenants(self, jurisdictions: list[JurisdictionConfig]) -> TenantRegistry:
        """Every jurisdiction's tenant; one whose connector fails to import is left out,
        with the reason, and the others are served."""
        tenants: list[Tenant] = []
        broken: dict[str, str] = {}
        for jurisdiction in jurisdictions:
            try:
                tenants.append(build_tenant(jurisdiction, self.metrics))
            except ConnectorImportFailed as failure:
                log.error(
                    "connector_import_failed",
                    jurisdiction=jurisdiction.id,
                    connector=failure.kind,
                    reason=failure.reason,
                )
                broken[jurisdiction.id] = str(failure)
        return TenantRegistry(tenants, broken)

    def _dependents(self, tenant: Tenant) -> list[CatalogueRefresher]:
        """What runs on the tenant's connector once it has started."""
        if self.worker_only or tenant.refresher is None:
            return []
        return [tenant.refresher]

    async def close(self) -> None:
        """Close every part, the last started first: the worker before what it uses."""
        if self._running is not None:
            await self._running.aclose()
            self._running = None

    async def exposition(self) -> bytes:
        """The metrics, with the queue's depth read now."""
        try:
            async with asyncio.timeout(_DEPTH_TIMEOUT):
                self.metrics.queue_depth(await self.queue.depth())
        except (TimeoutError, QueueUnavailable) as failure:
            log.warning("queue_depth_unavailable", reason=str(failure) or "timeout")
        return self.metrics.exposition()

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
