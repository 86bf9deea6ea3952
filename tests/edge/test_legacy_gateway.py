"""The gateway serving the legacy ticketing schema on PostgreSQL, through its HTTP app:
numeric status codes both ways and the category joined by code, as clients see them."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient

from gateway import apikeys
from gateway.config import Config, ConnectorConfig, GatewayConfig, JurisdictionConfig
from gateway.runtime import Runtime

from clientforms import API_KEY
from legacy import LEGACY_MAPPING, legacy_database, open311_round_trip
from loopback import GatewayTestServer


async def test_legacy_tables_on_postgresql_served_over_open311(
    aiohttp_client, tmp_path: Path
) -> None:
    async with legacy_database("postgresql", tmp_path) as url:
        config = Config(
            gateway=GatewayConfig(
                base_url="http://gateway.test", store_url=f"sqlite:///{tmp_path / 'gateway.db'}"
            ),
            jurisdictions=[
                JurisdictionConfig(
                    id="legacy.city",
                    mapping=LEGACY_MAPPING,
                    api_keys=[apikeys.hash_key(API_KEY)],
                    connector=ConnectorConfig(settings={"url": url, "pool_size": 2}, timeout=5),
                )
            ],
        )
        client: TestClient = await aiohttp_client(GatewayTestServer(Runtime(config)))
        try:
            await open311_round_trip(client, url, API_KEY)
        finally:
            await client.close()
