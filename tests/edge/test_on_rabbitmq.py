"""The whole gateway with its queue on RabbitMQ: accept, deliver, answer, resolve."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from gateway.runtime import Runtime

from clientforms import API_KEY, create, service_of, valid_request
from conftest import embedded
from loopback import GatewayTestServer
from services import rabbitmq_topology, rabbitmq_url


@pytest.fixture
async def client(
    aiohttp_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[TestClient]:
    url = await rabbitmq_url()
    prefix = f"test-{secrets.token_hex(4)}"
    config = embedded(tmp_path, monkeypatch)
    config.gateway.queue_url = url
    config.gateway.queue_prefix = prefix
    runtime = Runtime(config)
    async with rabbitmq_topology(url, runtime.queue.topology):  # type: ignore[attr-defined]
        yield await aiohttp_client(GatewayTestServer(runtime))


async def test_a_realtime_request_is_answered_with_the_backends_id(client: TestClient) -> None:
    service = await service_of(client, type="realtime")
    receipt = await create(client, service["service_code"])
    assert receipt["service_request_id"]
    found = await client.get(f"/requests/{receipt['service_request_id']}.json")
    assert found.status == 200
    assert (await found.json())[0]["service_code"] == service["service_code"]


async def test_a_repeated_key_gets_the_first_answer(client: TestClient) -> None:
    service = await service_of(client, type="realtime")
    form = await valid_request(client, service["service_code"])
    headers = {"Idempotency-Key": "rabbit-1"}
    first = await client.post("/requests.json", data=form, headers=headers)
    again = await client.post("/requests.json", data=form, headers=headers)
    assert first.status == again.status == 200
    assert await first.json() == await again.json()
    assert API_KEY not in await again.text()


async def test_readiness_checks_the_broker(client: TestClient) -> None:
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"]["queue"] == "ok"
