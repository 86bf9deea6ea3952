"""Example City on Salesforce through the gateway, against the simulator over TLS: the
catalogue from the Type picklist, the whole Open311 flow, updates both ways, a session
that expires under it and limit errors it absorbs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from connectors.testing.salesforce import RunningSimulator, running_salesforce
from gateway.config import load_config
from gateway.runtime import Runtime

from clientforms import API_KEY
from loopback import GatewayTestServer
from salesforce_backend import gateway_client
from wire import spark, stringify

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "salesforce.yaml"
REPORT = {
    "api_key": API_KEY,
    "service_code": "Pothole",
    "lat": "51.5072",
    "long": "-0.1276",
    "address_string": "1 High Street",
    "description": "Deep hole by the bus stop",
    "email": "resident@example.org",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "attribute[depth]": "12",
    "attribute[position]": "road",
}


@pytest.fixture
def salesforce() -> Iterator[RunningSimulator]:
    with running_salesforce() as running:
        yield running


@pytest.fixture
async def gateway(aiohttp_client, tmp_path: Path, salesforce: RunningSimulator) -> TestClient:
    return await gateway_client(aiohttp_client, salesforce, tmp_path, API_KEY)


async def both_formats(client: TestClient, path: str) -> Any:
    """The JSON body of GET `path` (a query after `?`), checked against the XML one."""
    resource, _, query = path.partition("?")
    xml = await client.get(f"{resource}.xml?{query}")
    js = await client.get(f"{resource}.json?{query}")
    assert (xml.status, js.status) == (200, 200), await js.text()
    data = await js.json()
    assert spark(await xml.read()) == stringify(data)
    return data


async def create(client: TestClient, **changes: str) -> str:
    response = await client.post("/requests.json", data={**REPORT, **changes})
    assert response.status == 200, await response.text()
    [receipt] = await response.json()
    return receipt["service_request_id"]


def window() -> str:
    now = datetime.now(UTC)
    start, end = now - timedelta(minutes=5), now + timedelta(minutes=5)
    return f"start_date={start:%Y-%m-%dT%H:%M:%SZ}&end_date={end:%Y-%m-%dT%H:%M:%SZ}"


async def test_the_catalogue_is_the_type_picklist_with_the_mapping_overrides(
    gateway: TestClient,
) -> None:
    services = await both_formats(gateway, "/services")
    assert [(s["service_code"], s["service_name"]) for s in services] == [
        ("Pothole", "Pothole"),
        ("Streetlight", "Street light out"),
        ("Graffiti", "Graffiti"),
        ("Abandoned Vehicle", "Abandoned vehicle"),
    ]
    pothole = services[0]
    assert (pothole["group"], pothole["metadata"], pothole["keywords"]) == (
        "Streets",
        True,
        "road,pothole",
    )
    definition = await both_formats(gateway, "/services/Pothole")
    assert [a["code"] for a in definition["attributes"]] == ["depth", "position"]


async def test_the_whole_open311_flow(gateway: TestClient, salesforce: RunningSimulator) -> None:
    request_id = await create(gateway)
    [case] = salesforce.org.rows("Case")
    assert case["Id"] == request_id
    assert (case["Type"], case["Priority"], case["Origin"]) == ("Pothole", "High", "Web")
    assert case["Subject"] == "Pothole at 1 High Street"
    assert (case["SuppliedName"], case["SuppliedEmail"]) == ("Ada Lovelace", "resident@example.org")
    assert case["Open311_Attributes__c"] == '{"depth": "12", "position": "road"}'
    assert case["Open311_Key__c"].startswith("fingerprint:")

    [request] = await both_formats(gateway, f"/requests/{request_id}")
    assert request["service_request_id"] == request_id
    assert (request["service_code"], request["service_name"], request["status"]) == (
        "Pothole",
        "Pothole",
        "open",
    )
    assert request["description"] == "Deep hole by the bus stop"
    assert request["address"] == "1 High Street"
    assert request["lat"] == pytest.approx(51.5072)

    graffiti = await create(gateway, service_code="Graffiti", description="Tags on the wall")
    found = await both_formats(gateway, f"/requests?service_code=Pothole&status=open&{window()}")
    assert [r["service_request_id"] for r in found] == [request_id]
    both = await both_formats(gateway, "/requests?service_code=Pothole,Graffiti")
    assert {r["service_request_id"] for r in both} == {request_id, graffiti}
    assert await both_formats(gateway, "/requests?status=closed") == []
    listed = await both_formats(gateway, f"/requests?service_request_id={graffiti},{request_id}")
    assert {r["service_request_id"] for r in listed} == {request_id, graffiti}
    missing = await gateway.get("/requests/5005g00000000ZZAAA.json")
    assert missing.status == 404


async def test_updates_both_ways(gateway: TestClient, salesforce: RunningSimulator) -> None:
    request_id = await create(gateway)
    update = {
        "api_key": API_KEY,
        "service_request_id": request_id,
        "update_id": "fms-1",
        "status": "FIXED",
        "updated_datetime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "description": "Filled in this morning",
    }
    posted = await gateway.post("/servicerequestupdates.json", data=update)
    assert posted.status == 200, await posted.text()
    [answer] = await posted.json()
    assert (answer["service_request_id"], answer["status"]) == (request_id, "closed")
    assert answer["description"] == "Filled in this morning"
    [case] = salesforce.org.rows("Case")
    assert case["Status"] == "Closed"
    [request] = await both_formats(gateway, f"/requests/{request_id}")
    assert request["status"] == "closed"

    salesforce.org.create(
        "CaseComment",
        {"ParentId": request_id, "CommentBody": "Crew checked it", "IsPublished": True},
    )
    salesforce.org.create("CaseComment", {"ParentId": request_id, "CommentBody": "internal"})
    updates = await both_formats(gateway, f"/servicerequestupdates?{window()}")
    assert [(u["description"], u["status"]) for u in updates] == [
        ("Filled in this morning", "closed"),
        ("Crew checked it", "closed"),
    ]
    assert updates[0]["update_id"] == answer["update_id"]
    assert {u["external_status_code"] for u in updates} == {"Closed"}

    comment = {**update, "update_id": "fms-2", "status": "OPEN", "description": "Thanks"}
    posted = await gateway.post("/servicerequestupdates.json", data=comment)
    assert posted.status == 200, await posted.text()
    assert salesforce.org.rows("Case")[0]["Status"] == "Closed"  # a comment alone


async def test_a_session_that_expires_is_renewed_under_every_operation(
    gateway: TestClient, salesforce: RunningSimulator
) -> None:
    first = await create(gateway)
    grants = salesforce.simulator.grants
    salesforce.simulator.expire_sessions()
    second = await create(gateway, description="Another one")
    salesforce.simulator.expire_sessions()
    listed = await both_formats(gateway, "/requests")
    assert {r["service_request_id"] for r in listed} == {first, second}
    assert salesforce.simulator.grants == grants + 2


async def test_limit_errors_are_absorbed_and_the_delivery_retried(
    gateway: TestClient, salesforce: RunningSimulator
) -> None:
    await both_formats(gateway, "/services")
    salesforce.knobs.fail_next(3, "limit")
    request_id = await create(gateway)
    assert salesforce.knobs.pending_failures() == 0
    [case] = salesforce.org.rows("Case")
    assert case["Id"] == request_id

    salesforce.knobs.fail_next(1, "limit")
    refused = await gateway.get("/requests.json")
    assert refused.status == 503 and "REQUEST_LIMIT_EXCEEDED" in await refused.text()
    assert [r["service_request_id"] for r in await both_formats(gateway, "/requests")] == [
        request_id
    ]


async def test_a_validation_rule_refuses_with_its_message(
    gateway: TestClient, salesforce: RunningSimulator
) -> None:
    salesforce.org.add_rule(
        "Case",
        "Latitude__c",
        lambda latitude: latitude is None or 51 <= latitude <= 52,
        "The location is outside Example City",
    )
    response = await gateway.post("/requests.json", data={**REPORT, "lat": "48.85"})
    assert response.status == 400
    [error] = await response.json()
    assert error["description"].endswith(
        "Salesforce refused the request: FIELD_CUSTOM_VALIDATION_EXCEPTION: "
        "The location is outside Example City (fields: Latitude__c)"
    )
    assert salesforce.org.rows("Case") == []


async def test_the_example_deployment_runs_against_the_simulator(
    aiohttp_client, tmp_path: Path, salesforce: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy/examples/salesforce.yaml as shipped: its credentials are the simulator's."""
    monkeypatch.setenv("OPEN311_API_KEY", API_KEY)
    monkeypatch.setenv("BACKEND_URL", salesforce.url)
    monkeypatch.setenv("BACKEND_CA_FILE", str(salesforce.ca_file))
    config = load_config(EXAMPLE)
    config.gateway.store_url = f"sqlite:///{tmp_path / 'gateway.db'}"
    config.gateway.queue_url = f"sqlite:///{tmp_path / 'queue.db'}"
    gateway = await aiohttp_client(GatewayTestServer(Runtime(config)))
    request_id = await create(gateway)
    [request] = await both_formats(gateway, f"/requests/{request_id}")
    assert request["service_code"] == "Pothole"
