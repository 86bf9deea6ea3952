"""End to end: a client -> gateway A on deploy/examples/federation.yaml (the open311
connector) -> gateway B on the embedded default (SQL), both real, B on loopback TCP.

What A serves is what B serves: the catalogue, the requests a client posts through A,
their updates; in JSON and, with the connector set to XML, through B's XML too."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from gateway.cli import main
from gateway.config import BackoffConfig, WorkerConfig, load_config, resolve_sqlite_url
from gateway.runtime import Runtime

from clientforms import API_KEY, valid_request
from delivery import drained
from gateways import UPSTREAM_KEY, upstream_gateway
from loopback import GatewayTestServer

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "federation.yaml"


def example_environment(monkeypatch: pytest.MonkeyPatch, upstream_url: str) -> None:
    monkeypatch.setenv("OPEN311_API_KEY", API_KEY)
    monkeypatch.setenv("BACKEND_URL", upstream_url)
    monkeypatch.setenv("BACKEND_API_KEY", UPSTREAM_KEY)


@pytest.fixture
async def upstream_url(aiohttp_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Gateway B's base URL."""
    url, _ = await upstream_gateway(aiohttp_client, tmp_path / "b", monkeypatch)
    return url


@pytest.fixture
async def upstream(upstream_url: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session to gateway B."""
    async with aiohttp.ClientSession(base_url=upstream_url + "/") as session:
        yield session


@pytest.fixture
def federate(
    aiohttp_client: Any,
    upstream_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Awaitable[TestClient]]:
    """Makes gateway A: the shipped example, its data in the test's folder, its worker
    and connector settings changed by the test's."""

    async def make(worker: WorkerConfig | None = None, **settings: Any) -> TestClient:
        example_environment(monkeypatch, upstream_url)
        config = load_config(EXAMPLE)
        config.gateway.store_url = resolve_sqlite_url("sqlite:///a/gateway.db", tmp_path)
        config.gateway.queue_url = resolve_sqlite_url("sqlite:///a/queue.db", tmp_path)
        if worker is not None:
            config.gateway.worker = worker
        config.jurisdictions[0].connector.settings.update(settings)
        return await aiohttp_client(GatewayTestServer(Runtime(config)))

    return make


@pytest.fixture(params=["json", "xml"])
async def federated(
    request: pytest.FixtureRequest, federate: Callable[..., Awaitable[TestClient]]
) -> TestClient:
    """Gateway A with the connector speaking `request.param` to B."""
    return await federate(format=request.param)


async def both(
    federated: TestClient, upstream: aiohttp.ClientSession, path: str
) -> tuple[bytes, bytes]:
    """`GET path` from A and from B, each answered 200."""
    through = await federated.get(f"/{path}")
    direct = await upstream.get(path)
    assert (through.status, direct.status) == (200, 200), await through.text()
    return await through.read(), await direct.read()


def test_the_example_checks(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    example_environment(monkeypatch, "http://127.0.0.1:9")
    assert main(["check", "--config", str(EXAMPLE)]) == 0
    assert "OK (1 jurisdictions)" in capsys.readouterr().out


def test_the_example_needs_the_upstream_address(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    example_environment(monkeypatch, "http://127.0.0.1:9")
    monkeypatch.delenv("BACKEND_URL")
    assert main(["check", "--config", str(EXAMPLE)]) == 2
    assert "environment variable BACKEND_URL is not set" in capsys.readouterr().err


async def test_the_catalogue_is_the_upstreams(
    federated: TestClient, upstream: aiohttp.ClientSession
) -> None:
    for path in ("services.json", "services.xml", "services/FLY.json", "services/POT.xml"):
        through, direct = await both(federated, upstream, path)
        assert through == direct, path


async def test_a_request_posted_through_a_is_bs(
    federated: TestClient, upstream: aiohttp.ClientSession
) -> None:
    form = await valid_request(federated, "POT")
    response = await federated.post("/requests.json", data=form)
    assert response.status == 200, await response.text()
    [receipt] = await response.json()
    request_id = receipt["service_request_id"]
    for path in (f"requests/{request_id}.json", f"requests/{request_id}.xml"):
        through, direct = await both(federated, upstream, path)
        assert through == direct, path
    through, direct = await both(federated, upstream, "requests.json?status=open")
    assert through == direct
    [listed] = await (await federated.get("/requests.json?service_code=POT")).json()
    assert (listed["service_request_id"], listed["status"]) == (request_id, "open")


async def test_updates_go_through_a_to_b(
    federated: TestClient, upstream: aiohttp.ClientSession
) -> None:
    response = await federated.post("/requests.json", data=await valid_request(federated, "DOG"))
    [receipt] = await response.json()
    update = {
        "api_key": API_KEY,
        "service_request_id": receipt["service_request_id"],
        "update_id": "fms-1",
        "status": "FIXED",
        "updated_datetime": "2026-11-01T08:30:00Z",
        "description": "Cleaned up",
    }
    posted = await federated.post("/servicerequestupdates.json", data=update)
    assert posted.status == 200, await posted.text()
    [stored] = await posted.json()
    assert (stored["status"], stored["description"]) == ("fixed", "Cleaned up")
    through, direct = await both(federated, upstream, "servicerequestupdates.xml")
    assert through == direct
    [closed] = await (await federated.get(f"/requests/{receipt['service_request_id']}.json")).json()
    assert closed["status"] == "closed"


async def test_a_delivery_left_without_an_id_is_found_by_its_key_next_time(
    federate: Callable[..., Awaitable[TestClient]], upstream: aiohttp.ClientSession
) -> None:
    """B answers a batch service with a token; with no polls allowed, A's delivery ends
    without B's id, and the next one finds B's request by the key instead of posting again."""
    quick = BackoffConfig(base_seconds=0.01, cap_seconds=0.05, max_attempts=100)
    federated = await federate(worker=WorkerConfig(backoff=quick), token_polls=0)
    response = await federated.post("/requests.json", data=await valid_request(federated, "BULKY"))
    [receipt] = await response.json()
    runtime = federated.server.runtime
    await drained(runtime)
    [resolved] = await (await federated.get(f"/tokens/{receipt['token']}.json")).json()
    [direct] = await (await upstream.get("requests.json?service_code=BULKY")).json()
    assert resolved["service_request_id"] == direct["service_request_id"]
    deliveries = runtime.metrics.registry.get_sample_value(
        "open311_deliveries_total", {"jurisdiction": "federated.city", "outcome": "found"}
    )
    assert deliveries == 1.0
