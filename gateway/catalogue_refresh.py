"""Keeping a catalogue taken from the backend fresh, by atomic swap.

Each refresh lists the backend's services and builds a whole new `Catalogue`; only a
complete, consistent one replaces the catalogue served. A refresh that fails (backend
error or timeout, a record that does not map, a code listed twice, or no services at
all where there were some) keeps the last good catalogue and logs why, so a flaky
backend can never empty or shrink what clients see.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from connectors.base import Connector, ConnectorError
from gateway.catalogue import Catalogue, CatalogueHolder
from gateway.logs import get_logger
from gateway.mapping import MappingError
from gateway.mapping.backend_catalogue import BackendCatalogue
from gateway.tasks import Sleep, cancelled, jittered

log = get_logger(__name__)

FIRST_RETRY = 1.0
"""Seconds before retrying after a first load failed; doubled after each further failure,
up to the interval, so that a gateway started while its backend was down recovers soon."""


class CatalogueRefresher:
    """Loads a jurisdiction's catalogue from its backend, then refreshes it in the background.

    `interval` is the seconds between refreshes; `sleep` and `random` stand in for
    `asyncio.sleep` and `random.random`, so that tests drive the clock.
    """

    def __init__(
        self,
        jurisdiction: str,
        source: BackendCatalogue,
        connector: Connector,
        holder: CatalogueHolder,
        *,
        interval: float,
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = random.random,
    ) -> None:
        self._jurisdiction = jurisdiction
        self._source = source
        self._connector = connector
        self._holder = holder
        self._interval = interval
        self._sleep = sleep
        self._random = random
        self._lock = asyncio.Lock()
        self._listed = 0
        self._unmatched: tuple[str, ...] = ()
        self._failed_first_loads = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the catalogue once (failing softly), then keep refreshing it."""
        await self.refresh()
        self._task = asyncio.create_task(
            self._run(), name=f"catalogue-refresh:{self._jurisdiction}"
        )

    async def close(self) -> None:
        await cancelled(self._task)
        self._task = None

    async def refresh(self) -> str | None:
        """One refresh: None when the new catalogue is served, else why the last good one
        (or none, before a first load) is kept."""
        async with self._lock:
            problem = await self._refresh()
        if problem is not None:
            loaded = self._holder.loaded is not None
            if not loaded:
                self._failed_first_loads += 1
            log.warning(
                "catalogue_refresh_failed",
                jurisdiction=self._jurisdiction,
                reason=problem,
                loaded=loaded,
            )
        return problem

    async def _refresh(self) -> str | None:
        timeout = self._connector.timeout
        try:
            async with asyncio.timeout(timeout):
                records = await self._connector.list_services()
            contents = self._source.build(records)
        except TimeoutError:
            return f"the backend did not list its services within {timeout:g} s"
        except ConnectorError as exc:
            return f"the backend failed to list its services: {exc.reason}"
        except MappingError as exc:
            return f"the backend's services cannot be mapped: {exc}"
        except Exception as exc:  # a connector's bug must not end the refreshes
            log.exception("catalogue_refresh_crashed", jurisdiction=self._jurisdiction)
            return f"listing the backend's services raised {type(exc).__name__}"
        if not records and self._listed:
            return f"the backend listed no services, where it listed {self._listed} before"
        self._holder.swap(Catalogue(contents.services, contents.definitions))
        self._listed = len(records)
        log.info(
            "catalogue_refreshed",
            jurisdiction=self._jurisdiction,
            services=len(contents.services),
        )
        if contents.unmatched_overrides and contents.unmatched_overrides != self._unmatched:
            log.warning(
                "catalogue_overrides_unmatched",
                jurisdiction=self._jurisdiction,
                service_codes=list(contents.unmatched_overrides),
            )
        self._unmatched = contents.unmatched_overrides
        return None

    async def _run(self) -> None:
        while True:
            await self._sleep(self._next_delay())
            await self.refresh()

    def _next_delay(self) -> float:
        """The interval, sooner while no catalogue has loaded yet; with jitter."""
        delay = self._interval
        if self._holder.loaded is None:
            delay = min(delay, FIRST_RETRY * 2 ** max(0, self._failed_first_loads - 1))
        return jittered(delay, self._random)
