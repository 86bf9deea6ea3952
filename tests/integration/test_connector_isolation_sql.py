"""Real start failures of the SQL connector on PostgreSQL, beside a jurisdiction on SQLite
that keeps working: a database server that refuses connections (the gateway recovers by
itself once it accepts them), and a database that does not exist."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from faultproxy import FaultProxy

from gateway import apikeys, connector_start
from gateway.config import Config, ConnectorConfig, GatewayConfig, JurisdictionConfig
from gateway.queue import Backoff
from gateway.runtime import Runtime
from mappings import mapping_path

from delivery import PATIENCE_SECONDS
from loopback import GatewayTestServer
from services import postgres_database

API_KEY = "isolation-key"


def two_cities(tmp_path: Path, postgres_url: str) -> Config:
    """`example.city` on a SQLite file, `pg.city` on `postgres_url`; both create their
    tables on start."""

    def city(jurisdiction: str, url: str) -> JurisdictionConfig:
        return JurisdictionConfig(
            id=jurisdiction,
            mapping=mapping_path("embedded.yaml"),
            api_keys=[apikeys.hash_key(API_KEY)],
            connector=ConnectorConfig(settings={"url": url, "create_schema": True}, timeout=5),
            sync_wait=5,
        )

    return Config(
        gateway=GatewayConfig(store_url=f"sqlite:///{tmp_path / 'gateway.db'}"),
        jurisdictions=[
            city("example.city", f"sqlite:///{tmp_path / 'tickets.db'}"),
            city("pg.city", postgres_url),
        ],
    )


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with postgres_database() as url:
        yield url


@pytest.fixture
async def proxy(postgres_url: str) -> AsyncIterator[FaultProxy]:
    """A proxy in front of the test's database server, refusing connections at first."""
    async with FaultProxy.before(postgres_url) as proxy:
        proxy.cut()
        yield proxy


async def readiness(client: TestClient) -> dict[str, str]:
    return (await (await client.get("/readyz")).json())["checks"]


async def post_pothole(client: TestClient, jurisdiction: str) -> int:
    response = await client.post(
        "/requests.json",
        data={
            "api_key": API_KEY,
            "jurisdiction_id": jurisdiction,
            "service_code": "POT",
            "lat": "51.5072",
            "long": "-0.1276",
            "attribute[depth]": "12",
            "attribute[position]": "carriageway",
        },
    )
    return response.status


async def test_a_database_server_that_comes_back_is_served_without_a_restart(
    aiohttp_client, tmp_path: Path, postgres_url: str, proxy: FaultProxy, monkeypatch
) -> None:
    monkeypatch.setattr(connector_start, "RETRY", Backoff(base_seconds=0.05, cap_seconds=0.05))
    config = two_cities(tmp_path, proxy.url(postgres_url))
    client = await aiohttp_client(GatewayTestServer(Runtime(config)))
    assert await post_pothole(client, "example.city") == 200
    assert await post_pothole(client, "pg.city") == 503
    checks = await readiness(client)
    assert checks["backend:example.city"] == "ok"
    assert checks["backend:pg.city"].startswith("not started: ")

    proxy.accept()
    tenant = client.server.runtime.tenants.resolve("pg.city")
    async with asyncio.timeout(PATIENCE_SECONDS):
        await tenant.starter.wait_started()
    assert await post_pothole(client, "pg.city") == 200
    found = await client.get("/requests.json?jurisdiction_id=pg.city")
    assert found.status == 200
    assert [request["service_code"] for request in await found.json()] == ["POT"]
    assert set((await readiness(client)).values()) == {"ok"}


async def test_a_database_that_does_not_exist_is_named_in_the_readiness_check(
    aiohttp_client, tmp_path: Path, postgres_url: str
) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/open311_never_created"
    client = await aiohttp_client(GatewayTestServer(Runtime(two_cities(tmp_path, missing))))
    checks = await readiness(client)
    assert checks["backend:pg.city"] == (
        'not started: the database failed: database "open311_never_created" does not exist'
    )
    assert checks["backend:example.city"] == "ok"
    assert await post_pothole(client, "example.city") == 200
