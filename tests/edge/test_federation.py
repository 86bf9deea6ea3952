"""End to end: a client -> gateway A on deploy/examples/federation.yaml (the open311
connector) -> gateway B on the embedded default (SQL), both real, B on loopback TCP.

What A serves is what B serves: the catalogue, the requests a client posts through A,
their updates; in JSON and, with the connector set to XML, through B's XML too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from gateway.cli import main
from gateway.config import load_config, resolve_sqlite_url
from gateway.http.app import create_app
from gateway.runtime import Runtime

from clientforms import API_KEY, valid_request
from gateways import UPSTREAM_KEY, upstream_gateway

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "federation.yaml"


def example_environment(monkeypatch: pytest.MonkeyPatch, upstream_url: str) -> None:
    monkeypatch.setenv("OPEN311_API_KEY", API_KEY)
    monkeypatch.setenv("BACKEND_URL", upstream_url)
    monkeypatch.setenv("BACKEND_API_KEY", UPSTREAM_KEY)


@pytest.fixture
async def upstream(
    aiohttp_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[aiohttp.ClientSession]:
    """Gateway B, and a client session to it."""
    url, _ = await upstream_gateway(aiohttp_server, tmp_path / "b", monkeypatch)
    async with aiohttp.ClientSession(base_url=url + "/") as session:
        yield session


@pytest.fixture(params=["json", "xml"])
async def federated(
    request: pytest.FixtureRequest,
    aiohttp_client: Any,
    upstream: aiohttp.ClientSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> TestClient:
    """Gateway A: the shipped example, its data in the test's folder, the connector
    speaking `request.param` to B."""
    example_environment(monkeypatch, str(upstream._base_url).rstrip("/"))
    config = load_config(EXAMPLE)
    config.gateway.store_url = resolve_sqlite_url("sqlite:///a/gateway.db", tmp_path)
    config.gateway.queue_url = resolve_sqlite_url("sqlite:///a/queue.db", tmp_path)
    config.jurisdictions[0].connector.settings["format"] = request.param
    return await aiohttp_client(create_app(Runtime(config)))


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
