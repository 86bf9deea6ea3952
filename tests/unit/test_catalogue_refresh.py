"""A catalogue taken from a backend at run time: first load, refreshes by atomic swap,
failed refreshes that keep the last good catalogue, and the background loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from connectors.base import PermanentError, TransientError
from gateway import operations
from gateway.catalogue import CatalogueHolder
from gateway.catalogue_refresh import FIRST_RETRY, CatalogueRefresher
from gateway.config import Config, ConnectorConfig, GatewayConfig, JurisdictionConfig
from gateway.mapping import load_mapping
from gateway.mapping.backend_catalogue import BackendCatalogue
from gateway.metrics import Metrics
from gateway.open311.errors import Open311Error
from gateway.open311.models import RequestQuery
from gateway.runtime import Runtime
from gateway.tenants import Tenant, build_tenant

from scripted_backend import (
    DOG,
    GONE,
    LATER,
    POT,
    ManualSleep,
    ScriptedConnector,
    register,
    write_mapping,
)

INTERVAL = 30.0


@pytest.fixture
def mapping_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    register(monkeypatch)
    return write_mapping(tmp_path)


@pytest.fixture
def source(mapping_file: Path) -> BackendCatalogue:
    catalogue = load_mapping(mapping_file).backend_catalogue
    assert catalogue is not None
    return catalogue


@pytest.fixture
def connector() -> ScriptedConnector:
    return ScriptedConnector({"services": [POT, DOG, GONE]}, {}, timeout=0.05)


@pytest.fixture
def holder() -> CatalogueHolder:
    return CatalogueHolder()


@pytest.fixture
def sleep() -> ManualSleep:
    return ManualSleep()


@pytest.fixture
async def refresher(
    source: BackendCatalogue,
    connector: ScriptedConnector,
    holder: CatalogueHolder,
    sleep: ManualSleep,
) -> AsyncIterator[CatalogueRefresher]:
    refresher = CatalogueRefresher(
        "city", source, connector, holder, interval=INTERVAL, sleep=sleep, random=lambda: 0.5
    )
    yield refresher
    await refresher.close()


def served(holder: CatalogueHolder) -> list[dict]:
    return json.loads(holder.current().services_document("json"))


def codes(holder: CatalogueHolder) -> list[str]:
    return [service["service_code"] for service in served(holder)]


def refresh_tasks() -> list[str]:
    return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("catalogue")]


# --- loading and refreshing -------------------------------------------------------------


async def test_service_routes_are_unavailable_before_a_first_load(
    refresher: CatalogueRefresher, connector: ScriptedConnector, holder: CatalogueHolder
) -> None:
    connector.failure = TransientError("the scripted backend is down")
    assert await refresher.refresh() == (
        "the backend failed to list its services: the scripted backend is down"
    )
    assert holder.loaded is None
    with pytest.raises(Open311Error) as caught:
        holder.current()
    assert caught.value.status == 503
    assert caught.value.headers == {"Retry-After": "30"}
    assert [problem.description for problem in caught.value.problems] == [
        "services: the catalogue is not loaded from the backend yet"
    ]


async def test_first_load_serves_the_backend_services_with_the_overrides(
    refresher: CatalogueRefresher, holder: CatalogueHolder
) -> None:
    assert await refresher.refresh() is None
    pot, dog = served(holder)  # GONE is hidden
    assert pot == {
        "service_code": "POT",
        "service_name": "Pothole",
        "description": "",
        "metadata": True,
        "type": "realtime",
        "keywords": "road,staff",
        "group": "Roads",
        "groups": ["Roads", "Pavements"],
    }
    assert (dog["service_name"], dog["group"], dog["metadata"]) == (
        "Dog fouling",
        "Cleaning",
        False,
    )
    xml = etree.fromstring(holder.current().services_document("xml"))
    assert [s.findtext("service_name") for s in xml] == ["Pothole", "Dog fouling"]
    assert [g.text for g in xml[0].find("groups")] == ["Roads", "Pavements"]


async def test_service_definitions_come_from_the_overrides(
    refresher: CatalogueRefresher, holder: CatalogueHolder
) -> None:
    await refresher.refresh()
    definition = json.loads(holder.current().definition_document("POT", "json"))
    depth, asset = definition["attributes"]
    assert (depth["code"], depth["datatype"], "automated" in depth) == ("depth", "number", False)
    assert (asset["code"], asset["automated"]) == ("asset", "server_set")
    xml = etree.fromstring(holder.current().definition_document("POT", "xml"))
    assert xml.findtext("attributes/attribute[2]/automated") == "server_set"
    assert json.loads(holder.current().definition_document("DOG", "json"))["attributes"] == []
    with pytest.raises(Open311Error) as caught:
        holder.current().definition_document("GONE", "json")
    assert caught.value.status == 404


async def test_a_refresh_picks_up_a_new_service_and_serves_new_bytes(
    refresher: CatalogueRefresher, connector: ScriptedConnector, holder: CatalogueHolder
) -> None:
    await refresher.refresh()
    before = holder.current().services_document("json")
    connector.services.append(LATER)
    assert await refresher.refresh() is None
    assert codes(holder) == ["POT", "DOG", "LATER"]
    assert served(holder)[2]["service_name"] == "Comes later"  # its override applies now
    assert holder.current().services_document("json") != before


async def test_a_service_the_backend_drops_leaves_the_catalogue(
    refresher: CatalogueRefresher, connector: ScriptedConnector, holder: CatalogueHolder
) -> None:
    await refresher.refresh()
    connector.services = [DOG]
    assert await refresher.refresh() is None
    assert codes(holder) == ["DOG"]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("down", "the backend failed to list its services: the scripted backend is down"),
        ("rejected", "the backend failed to list its services: no such table"),
        ("hang", "the backend did not list its services within 0.05 s"),
        (
            "unmappable",
            "the backend's services cannot be mapped: service record 1: the backend record "
            "is not an Open311 service: service_name: Field required",
        ),
        ("duplicate", "the backend's services cannot be mapped: service code 'DOG' is listed "),
        ("empty", "the backend listed no services, where it listed 3 before"),
        ("bug", "listing the backend's services raised RuntimeError"),
    ],
)
async def test_a_failed_refresh_keeps_the_last_good_catalogue(
    refresher: CatalogueRefresher,
    connector: ScriptedConnector,
    holder: CatalogueHolder,
    fault: str,
    reason: str,
) -> None:
    await refresher.refresh()
    good = holder.current()
    connector.services.append(LATER)
    if fault == "down":
        connector.failure = TransientError("the scripted backend is down")
    elif fault == "rejected":
        connector.failure = PermanentError("no such table")
    elif fault == "hang":
        connector.hang = True
    elif fault == "unmappable":
        connector.services = [POT, {"code": "X"}]
    elif fault == "duplicate":
        connector.services = [POT, DOG, DOG]
    elif fault == "empty":
        connector.services = []
    else:
        connector.failure = RuntimeError("a connector bug")
    assert (await refresher.refresh() or "").startswith(reason)
    assert holder.current() is good
    assert codes(holder) == ["POT", "DOG"]


async def test_an_empty_first_list_is_a_catalogue(
    refresher: CatalogueRefresher, connector: ScriptedConnector, holder: CatalogueHolder
) -> None:
    connector.services = []
    assert await refresher.refresh() is None
    assert served(holder) == []
    connector.services = [DOG]
    assert await refresher.refresh() is None
    assert codes(holder) == ["DOG"]


# --- the background loop ----------------------------------------------------------------


async def test_start_loads_then_refreshes_every_interval_with_jitter(
    source: BackendCatalogue,
    connector: ScriptedConnector,
    holder: CatalogueHolder,
    sleep: ManualSleep,
) -> None:
    draws = iter([0.0, 1.0, 0.5])
    refresher = CatalogueRefresher(
        "city",
        source,
        connector,
        holder,
        interval=INTERVAL,
        sleep=sleep,
        random=lambda: next(draws),
    )
    await refresher.start()
    assert codes(holder) == ["POT", "DOG"]
    connector.services.append(LATER)
    await sleep.round()
    assert codes(holder) == ["POT", "DOG", "LATER"]
    connector.failure = TransientError("the scripted backend is down")
    await sleep.round()
    assert codes(holder) == ["POT", "DOG", "LATER"]
    assert sleep.delays == pytest.approx([INTERVAL * 0.9, INTERVAL * 1.1, INTERVAL])
    assert refresh_tasks() == ["catalogue-refresh:city"]
    await refresher.close()
    assert refresh_tasks() == []


async def test_a_first_load_that_fails_is_retried_sooner(
    refresher: CatalogueRefresher,
    connector: ScriptedConnector,
    holder: CatalogueHolder,
    sleep: ManualSleep,
) -> None:
    connector.failure = TransientError("the scripted backend is down")
    await refresher.start()
    for _ in range(6):
        await sleep.round()
    assert holder.loaded is None
    connector.failure = None
    await sleep.round()
    assert codes(holder) == ["POT", "DOG"]
    backoff = [FIRST_RETRY * 2**n for n in range(6)]
    assert sleep.delays == [*[min(delay, INTERVAL) for delay in backoff], INTERVAL, INTERVAL]


# --- through the runtime ----------------------------------------------------------------


def config(tmp_path: Path, mapping_file: Path, **settings: object) -> Config:
    return Config(
        gateway=GatewayConfig(store_url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"),
        jurisdictions=[
            JurisdictionConfig(
                id="city",
                mapping=mapping_file,
                connector=ConnectorConfig(settings=settings, timeout=1.0),
            )
        ],
    )


async def test_the_runtime_loads_on_start_and_stops_refreshing_on_close(
    tmp_path: Path, mapping_file: Path
) -> None:
    runtime = Runtime(config(tmp_path, mapping_file, services=[POT, DOG]))
    tenant = runtime.tenants.resolve("city")
    assert tenant.catalogue.loaded is None
    await runtime.start()
    try:
        assert codes(tenant.catalogue) == ["POT", "DOG"]
        assert refresh_tasks() == ["catalogue-refresh:city"]
    finally:
        await runtime.close()
    assert refresh_tasks() == []


async def test_a_backend_down_on_start_delays_nothing_but_the_catalogue(
    tmp_path: Path, mapping_file: Path
) -> None:
    runtime = Runtime(config(tmp_path, mapping_file, services=[POT], down=True))
    await runtime.start()
    try:
        tenant = runtime.tenants.resolve("city")
        assert tenant.catalogue.loaded is None
        assert isinstance(tenant.connector, ScriptedConnector) and tenant.refresher is not None
        tenant.connector.failure = None
        assert await tenant.refresher.refresh() is None
        assert codes(tenant.catalogue) == ["POT"]
    finally:
        await runtime.close()


async def test_requests_are_named_by_the_catalogue_served(
    tmp_path: Path, mapping_file: Path
) -> None:
    at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC).isoformat()
    tickets = [{"id": 1, "kind": "POT", "at": at}, {"id": 2, "kind": "NEW", "at": at}]
    tenant: Tenant = build_tenant(
        config(tmp_path, mapping_file, tickets=tickets).jurisdictions[0], Metrics()
    )
    assert tenant.refresher is not None
    nameless = await operations.find_requests(tenant, RequestQuery())
    assert [request.service_name for request in nameless] == [None, None]
    assert isinstance(tenant.connector, ScriptedConnector)
    tenant.connector.services = [POT]
    await tenant.refresher.refresh()
    named = await operations.find_requests(tenant, RequestQuery())
    assert [request.service_name for request in named] == ["Pothole", None]
