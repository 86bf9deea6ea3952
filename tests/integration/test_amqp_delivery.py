"""A POST through RabbitMQ delivered by a worker of its own (`open311-gateway worker`):
the waiting POST hears the backend's id on its instance's reply queue. (The gateway's
own worker on RabbitMQ: tests/edge/test_on_rabbitmq.py.)"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from gateway.config import Config, WorkerConfig, WorkerMode
from gateway.queue.amqp_topology import Topology
from gateway.runtime import Runtime

from loopback import GatewayTestServer
from scripted_backend import ScriptedConnector, register, scripted_config
from services import rabbitmq_topology, rabbitmq_url

API_KEY = "amqp-key"
FORM = {"api_key": API_KEY, "service_code": "DOG", "lat": "51.5", "long": "-0.1"}


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """The test's own exchange and queue names on the broker, deleted afterwards."""
    url = await rabbitmq_url()
    name = f"test-{secrets.token_hex(4)}"
    async with rabbitmq_topology(url, Topology(name)):
        yield name


async def config_on_rabbitmq(
    tmp_path: Path, prefix: str, monkeypatch: pytest.MonkeyPatch, mode: WorkerMode
) -> Config:
    register(monkeypatch)
    config = scripted_config(tmp_path, API_KEY, worker=WorkerConfig(mode=mode), sync_wait=10)
    config.gateway = config.gateway.model_copy(
        update={"queue_url": await rabbitmq_url(), "queue_prefix": prefix}
    )
    return config


async def post(client: TestClient, key: str) -> dict[str, str]:
    response = await client.post("/requests.json", data=FORM, headers={"Idempotency-Key": key})
    assert response.status == 200, await response.text()
    (receipt,) = await response.json()
    return receipt


def backend_of(runtime: Runtime) -> ScriptedConnector:
    connector = runtime.tenants.resolve("city").connector
    assert isinstance(connector, ScriptedConnector)
    return connector


async def test_a_separate_worker_answers_the_waiting_post_through_the_reply_queue(
    aiohttp_client, tmp_path: Path, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `worker.mode: external` nothing in the gateway delivers, and with a reply
    address it does not read the store while it waits: only the reply queue can answer."""
    config = await config_on_rabbitmq(tmp_path, prefix, monkeypatch, WorkerMode.EXTERNAL)
    client = await aiohttp_client(GatewayTestServer(Runtime(config)))
    worker = Runtime(config, worker_only=True)
    await worker.start()
    try:
        receipt = await post(client, "k2")
        assert set(receipt) == {"service_request_id"}
        assert backend_of(worker).references() == {"header:k2": 1}
    finally:
        await worker.close()
