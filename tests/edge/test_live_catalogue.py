"""A catalogue taken from the backend, through the HTTP app: 503 until it loads, the
mapping's overrides in both formats, and refreshes that swap what is served."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from connectors.base import TransientError
from gateway import apikeys
from gateway.catalogue_refresh import CatalogueRefresher
from gateway.config import Config, ConnectorConfig, GatewayConfig, JurisdictionConfig
from gateway.runtime import Runtime

from clientforms import API_KEY
from loopback import GatewayTestServer
from scripted_backend import DOG, GONE, LATER, POT, ScriptedConnector, register, write_mapping
from wire import spark, stringify

FORMATS = ["xml", "json"]
AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC).isoformat()
TICKETS = [{"id": 1, "kind": "POT", "at": AT}, {"id": 2, "kind": "DOG", "at": AT}]


@pytest.fixture
async def client(aiohttp_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """A gateway whose one jurisdiction takes its catalogue from a backend that is down."""
    register(monkeypatch)
    config = Config(
        gateway=GatewayConfig(store_url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"),
        jurisdictions=[
            JurisdictionConfig(
                id="city",
                mapping=write_mapping(tmp_path),
                api_keys=[apikeys.hash_key(API_KEY)],
                connector=ConnectorConfig(
                    settings={"services": [POT, DOG, GONE], "tickets": TICKETS, "down": True},
                    timeout=1.0,
                ),
            )
        ],
    )
    return await aiohttp_client(GatewayTestServer(Runtime(config)))


def backend(client: TestClient) -> tuple[ScriptedConnector, CatalogueRefresher]:
    tenant = client.server.runtime.tenants.resolve("city")
    assert isinstance(tenant.connector, ScriptedConnector) and tenant.refresher is not None
    return tenant.connector, tenant.refresher


async def loaded(client: TestClient) -> ScriptedConnector:
    """The backend up again, and its catalogue loaded."""
    connector, refresher = backend(client)
    connector.failure = None
    assert await refresher.refresh() is None
    return connector


async def both_formats(client: TestClient, path: str) -> object:
    xml, js = await client.get(f"{path}.xml"), await client.get(f"{path}.json")
    assert (xml.status, js.status) == (200, 200)
    data = await js.json()
    assert spark(await xml.read()) == stringify(data)
    return data


@pytest.mark.parametrize("fmt", FORMATS)
async def test_service_routes_answer_503_until_the_catalogue_loads(
    client: TestClient, fmt: str
) -> None:
    message = "services: the catalogue is not loaded from the backend yet"
    for response in (
        await client.get(f"/services.{fmt}"),
        await client.get(f"/services/POT.{fmt}"),
        await client.post(f"/requests.{fmt}", data={"api_key": API_KEY, "service_code": "POT"}),
    ):
        assert response.status == 503
        assert response.headers["Retry-After"] == "30"
        assert message in await response.text()
    assert (await client.get(f"/discovery.{fmt}")).status == 200
    await loaded(client)
    assert (await client.get(f"/services.{fmt}")).status == 200


async def test_readiness_waits_for_the_catalogue(client: TestClient) -> None:
    ready = await client.get("/readyz")
    assert ready.status == 503
    assert (await ready.json())["checks"]["catalogue:city"] == "not loaded yet"
    await loaded(client)
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert set((await ready.json())["checks"].values()) == {"ok"}


async def test_readiness_is_degraded_not_down_while_the_backend_fails(client: TestClient) -> None:
    """The queue absorbs a backend's outage: the instance stays in rotation."""
    connector = await loaded(client)
    connector.failure = TransientError("the scripted backend is down")
    ready = await client.get("/readyz")
    assert ready.status == 200
    body = await ready.json()
    assert body["status"] == "degraded"
    assert body["checks"]["backend:city"] == "failed: the scripted backend is down"
    assert body["checks"]["store"] == body["checks"]["queue"] == "ok"


async def test_readiness_is_unavailable_without_the_store(client: TestClient) -> None:
    await loaded(client)
    await client.server.runtime.store.close()
    ready = await client.get("/readyz")
    assert ready.status == 503
    body = await ready.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["store"].startswith("failed")


async def test_overrides_in_both_formats(client: TestClient) -> None:
    await loaded(client)
    pot, dog = await both_formats(client, "/services")  # GONE is hidden
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
    definition = await both_formats(client, "/services/POT")
    assert [(a["code"], a.get("automated")) for a in definition["attributes"]] == [
        ("depth", None),
        ("asset", "server_set"),
    ]
    assert (await both_formats(client, "/services/DOG"))["attributes"] == []
    assert (await client.get("/services/GONE.json")).status == 404


async def test_posts_are_checked_against_the_override_attributes(client: TestClient) -> None:
    await loaded(client)
    response = await client.post(
        "/requests.json",
        data={"api_key": API_KEY, "service_code": "POT", "lat": "51.5", "long": "-0.1"},
    )
    assert response.status == 400
    # asset is required but set by the server: only depth is asked of the client
    assert [error["description"] for error in await response.json()] == [
        "attribute[depth]: required"
    ]


async def test_requests_carry_the_names_of_the_catalogue_served(client: TestClient) -> None:
    connector = await loaded(client)
    found = await (await client.get("/requests.json")).json()
    assert [(r["service_code"], r["service_name"]) for r in found] == [
        ("POT", "Pothole"),
        ("DOG", "Dog fouling"),
    ]
    connector.services = [{**DOG, "title": "Dog mess"}]
    await backend(client)[1].refresh()
    found = await (await client.get("/requests.json")).json()
    assert [r.get("service_name") for r in found] == [None, "Dog mess"]


async def test_refreshes_swap_what_is_served_and_say_why_not(
    client: TestClient, capsys: pytest.CaptureFixture[str], json_logs: Callable[[], None]
) -> None:
    json_logs()
    connector = await loaded(client)
    _, refresher = backend(client)
    first = await (await client.get("/services.json")).read()
    connector.services.append(LATER)
    await refresher.refresh()
    second = await (await client.get("/services.json")).read()
    assert [s["service_name"] for s in json.loads(second)] == [
        "Pothole",
        "Dog fouling",
        "Comes later",
    ]
    assert second != first
    connector.failure = TransientError("the scripted backend is down")
    await refresher.refresh()
    assert await (await client.get("/services.json")).read() == second
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    events = [
        {key: value for key, value in line.items() if key not in ("timestamp", "level")}
        for line in lines
        if line["event"].startswith("catalogue")
    ]
    assert events == [
        {"event": "catalogue_refreshed", "jurisdiction": "city", "services": 2},
        {
            "event": "catalogue_overrides_unmatched",
            "jurisdiction": "city",
            "service_codes": ["LATER"],
        },
        {"event": "catalogue_refreshed", "jurisdiction": "city", "services": 3},
        {
            "event": "catalogue_refresh_failed",
            "jurisdiction": "city",
            "reason": "the backend failed to list its services: the scripted backend is down",
            "loaded": True,
        },
    ]
