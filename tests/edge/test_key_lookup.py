"""GET requests with an `Idempotency-Key` header: the request created under that key.

The upstream connector finds its deliveries to this gateway that way; the header comes
back on the answer, which tells a client that the lookup was honoured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.config import WorkerConfig, WorkerMode
from gateway.runtime import Runtime

from clientforms import service_of, valid_request
from conftest import embedded
from loopback import GatewayTestServer


async def lookup(
    client: TestClient, key: str, fmt: str = "json", query: str = ""
) -> tuple[int, str | None, Any]:
    response = await client.get(f"/requests.{fmt}{query}", headers={"Idempotency-Key": key})
    body = await response.json() if fmt == "json" else await response.text()
    return response.status, response.headers.get("Idempotency-Key"), body


async def post(client: TestClient, key: str) -> dict[str, Any]:
    service = await service_of(client, type="realtime", metadata=False)
    form = await valid_request(client, service["service_code"])
    response = await client.post("/requests.json", data=form, headers={"Idempotency-Key": key})
    assert response.status == 200
    return (await response.json())[0]


async def test_the_request_created_under_the_key(client: TestClient) -> None:
    created = await post(client, "report-1")
    await post(client, "report-2")
    status, echoed, found = await lookup(client, " report-1 ", query="?status=closed")
    assert (status, echoed) == (200, "report-1")
    assert [r["service_request_id"] for r in found] == [created["service_request_id"]]
    response = await client.get(f"/requests/{created['service_request_id']}.json")
    assert found == await response.json()


async def test_in_xml(client: TestClient) -> None:
    created = await post(client, "report-x")
    status, echoed, body = await lookup(client, "report-x", "xml")
    assert (status, echoed) == (200, "report-x")
    assert f"<service_request_id>{created['service_request_id']}</service_request_id>" in body


async def test_an_unknown_key_finds_nothing(client: TestClient) -> None:
    await post(client, "report-1")
    assert await lookup(client, "report-9") == (200, "report-9", [])


async def test_without_the_header_requests_are_searched(client: TestClient) -> None:
    await post(client, "report-1")
    response = await client.get("/requests.json")
    assert "Idempotency-Key" not in response.headers
    assert len(await response.json()) == 1


async def test_a_request_not_delivered_yet_is_not_listed(
    aiohttp_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No worker runs in this process: the request stays accepted, with a token only."""
    config = embedded(tmp_path, monkeypatch)
    config.gateway.worker = WorkerConfig(mode=WorkerMode.EXTERNAL)
    config.jurisdictions[0] = config.jurisdictions[0].model_copy(update={"sync_wait": 0.0})
    client = await aiohttp_client(GatewayTestServer(Runtime(config)))
    assert "token" in await post(client, "report-1")
    assert await lookup(client, "report-1") == (200, "report-1", [])


async def test_a_key_over_the_limit(client: TestClient) -> None:
    status, _, body = await lookup(client, "k" * 201)
    assert status == 400
    assert body == [{"code": 400, "description": "Idempotency-Key: longer than 200 characters"}]
