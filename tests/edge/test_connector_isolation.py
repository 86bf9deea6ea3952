"""A connector that fails to import or to start takes down its own jurisdiction only:
503 with Retry-After on its routes, in the client's format, /readyz saying why, a log
line, and the other jurisdictions served as usual. A start is retried until it works."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from gateway import connector_start
from gateway.config import Config, ConnectorConfig
from gateway.queue import Backoff
from gateway.runtime import Runtime

from clientforms import API_KEY
from delivery import PATIENCE_SECONDS
from loopback import GatewayTestServer
from scripted_backend import POT, ScriptedConnector, register, scripted_config
from wire import assert_error

FORMATS = ["xml", "json"]
BROKEN_KIND = "broken"
REFUSED = "the scripted backend refuses connections"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    """`city` works; `down.city`'s connector refuses to start; `broken.city`'s cannot be
    imported. Starts are retried at once."""
    register(monkeypatch)
    register(monkeypatch, BROKEN_KIND, "open311_no_such_module:Connector")
    monkeypatch.setattr(connector_start, "RETRY", Backoff(base_seconds=0.01, cap_seconds=0.01))
    config = scripted_config(tmp_path, API_KEY)
    city = config.jurisdictions[0]
    settings = {**city.connector.settings, "unstartable": True}
    down = city.model_copy(
        update={"id": "down.city", "connector": ConnectorConfig(settings=settings)}
    )
    broken = city.model_copy(
        update={"id": "broken.city", "connector": ConnectorConfig(kind=BROKEN_KIND)}
    )
    config.jurisdictions += [down, broken]
    return config


@pytest.fixture
async def client(aiohttp_client, config: Config) -> TestClient:
    return await aiohttp_client(GatewayTestServer(Runtime(config)))


def runtime_of(client: TestClient) -> Runtime:
    return client.server.runtime


@pytest.mark.parametrize("fmt", FORMATS)
async def test_only_the_failing_jurisdictions_answer_503(client: TestClient, fmt: str) -> None:
    assert (await client.get(f"/services.{fmt}?jurisdiction_id=city")).status == 200
    assert (await client.get(f"/requests.{fmt}?jurisdiction_id=city")).status == 200
    failing = {
        "down.city": "jurisdiction down.city: its backend is not available yet",
        "broken.city": "jurisdiction broken.city: its connector cannot be loaded",
    }
    for jurisdiction, message in failing.items():
        query = f"jurisdiction_id={jurisdiction}"
        for response in (
            await client.get(f"/services.{fmt}?{query}"),
            await client.get(f"/services/POT.{fmt}?{query}"),
            await client.get(f"/requests.{fmt}?{query}"),
            await client.get(f"/requests/1.{fmt}?{query}"),
            await client.post(
                f"/requests.{fmt}?{query}", data={"api_key": API_KEY, "service_code": "POT"}
            ),
        ):
            await assert_error(response, fmt, 503, message)
            assert response.headers["Retry-After"] == "30"
            assert REFUSED not in await response.text()  # the reason is for operators


async def test_readiness_names_each_failing_jurisdiction_and_why(client: TestClient) -> None:
    ready = await client.get("/readyz")
    assert ready.status == 200  # the others are served: the instance stays in rotation
    body = await ready.json()
    assert body["status"] == "degraded"
    checks = body["checks"]
    assert checks["backend:city"] == "ok"
    assert checks["catalogue:city"] == "ok"
    assert checks["backend:down.city"] == f"not started: {REFUSED}"
    assert checks["backend:broken.city"] == (
        "failed: connector 'broken' failed to import: "
        "ModuleNotFoundError: No module named 'open311_no_such_module'"
    )


async def test_failures_are_logged_with_jurisdiction_connector_and_reason(
    aiohttp_client, config: Config, capsys, json_logs: Callable[[], None]
) -> None:
    json_logs()
    await aiohttp_client(GatewayTestServer(Runtime(config)))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    failures = {line["event"]: line for line in lines if line["level"] in ("warning", "error")}
    start = failures["connector_start_failed"]
    assert (start["jurisdiction"], start["connector"], start["reason"]) == (
        "down.city",
        "scripted",
        REFUSED,
    )
    imported = failures["connector_import_failed"]
    assert (imported["jurisdiction"], imported["connector"]) == ("broken.city", BROKEN_KIND)
    assert imported["reason"].startswith("failed to import: ModuleNotFoundError")


async def test_a_jurisdiction_whose_connector_starts_later_is_served(
    client: TestClient,
) -> None:
    tenant = runtime_of(client).tenants.resolve("down.city")
    assert isinstance(tenant.connector, ScriptedConnector)
    tenant.connector.start_failure = None
    async with asyncio.timeout(PATIENCE_SECONDS):
        await tenant.starter.wait_started()
    services = await client.get("/services.json?jurisdiction_id=down.city")
    assert services.status == 200
    assert [s["service_code"] for s in await services.json()] == [POT["code"], "DOG"]
    checks = (await (await client.get("/readyz")).json())["checks"]
    assert checks["backend:down.city"] == "ok"
    assert checks["catalogue:down.city"] == "ok"
