"""Millbrook through the gateway, on the CaseWorks SOAP simulator on loopback: the
catalogue from its case types, requests in and out, updates both ways, its faults as
Open311 errors, and an outage the queue absorbs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from connectors.testing.soap_crm import Crm, SoapCrm
from gateway import apikeys
from gateway.config import (
    BackoffConfig,
    Config,
    ConnectorConfig,
    GatewayConfig,
    JurisdictionConfig,
    WorkerConfig,
    load_config,
)
from gateway.runtime import Runtime
from gateway.store import SubmissionState

from clientforms import API_KEY
from delivery import drained
from loopback import GatewayTestServer
from soapcrm import MILLBROOK, Clock, soap_settings
from wire import spark, stringify

CITY = "millbrook.example"
DEPLOY_EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "soap-crm.yaml"
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
"""The CRM's clock starts here: inside the default 90-day window of GET requests."""
QUICK_BACKOFF = BackoffConfig(base_seconds=0.01, cap_seconds=0.05, max_attempts=1000)
FLY_TIPPING = [
    ("api_key", API_KEY),
    ("service_code", "EN-FLY"),
    ("lat", "51.461300"),
    ("long", "-0.303700"),
    ("address_string", "Towpath by Mill Bridge"),
    ("description", "Drums leaking onto the towpath"),
    ("attribute[waste][]", "building"),
    ("attribute[waste][]", "hazardous"),
    ("email", "resident@example.org"),
    ("first_name", "Ada"),
]
POTHOLE = [
    ("api_key", API_KEY),
    ("service_code", "RD-POT"),
    ("address_string", "12 Mill Lane"),
    ("attribute[depth]", "8"),
]


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
async def crm(clock: Clock) -> AsyncIterator[SoapCrm]:
    async with SoapCrm(Crm(clock=clock)) as simulator:
        yield simulator


@pytest.fixture
async def gateway(aiohttp_client, tmp_path: Path, crm: SoapCrm) -> TestClient:
    config = Config(
        gateway=GatewayConfig(
            store_url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
            worker=WorkerConfig(backoff=QUICK_BACKOFF),
        ),
        jurisdictions=[
            JurisdictionConfig(
                id=CITY,
                mapping=MILLBROOK,
                api_keys=[apikeys.hash_key(API_KEY)],
                sync_wait=5.0,
                connector=ConnectorConfig(
                    settings=soap_settings(crm, "1.2"), timeout=5.0, breaker_reset=0.2
                ),
            )
        ],
    )
    return await aiohttp_client(GatewayTestServer(Runtime(config)))


def runtime_of(client: TestClient) -> Runtime:
    return client.server.runtime


async def both_formats(client: TestClient, path: str, **params: str) -> Any:
    xml = await client.get(f"{path}.xml", params=params)
    js = await client.get(f"{path}.json", params=params)
    assert (xml.status, js.status) == (200, 200), await js.text()
    data = await js.json()
    assert spark(await xml.read()) == stringify(data)
    return data


async def created(client: TestClient, form: list[tuple[str, str]], key: str = "k") -> str:
    response = await client.post("/requests.json", data=form, headers={"Idempotency-Key": key})
    assert response.status == 200, await response.text()
    [receipt] = await response.json()
    return receipt["service_request_id"]


async def test_services_come_from_the_case_types(gateway: TestClient) -> None:
    services = await both_formats(gateway, "/services")
    assert [service["service_code"] for service in services] == [
        "RD-POT",
        "RD-LGT",
        "EN-FLY",
        "EN-GRF",
        "PK-TRE",
    ]  # XX-OLD is retired
    assert services[0] == {
        "service_code": "RD-POT",
        "service_name": "Pothole",
        "description": "A hole or crack in a road or cycle lane.",
        "metadata": True,
        "type": "realtime",
        "keywords": "pothole,road",
        "group": "Highways",
    }
    assert (services[3]["service_name"], services[3]["metadata"]) == ("Graffiti", False)
    definition = await both_formats(gateway, "/services/EN-FLY")
    [waste] = definition["attributes"]
    assert (waste["code"], waste["datatype"], waste["required"]) == (
        "waste",
        "multivaluelist",
        True,
    )


async def test_a_post_with_attributes_becomes_a_case(gateway: TestClient, crm: SoapCrm) -> None:
    number = await created(gateway, FLY_TIPPING)
    assert number == "CW-000001"
    [case] = crm.crm.cases
    assert (case.case_type, case.priority, case.channel) == ("EN-FLY", "P1", "OPEN311")
    assert [(a.question, a.values) for a in case.answers] == [("waste", ("building", "hazardous"))]
    assert case.contact == {"FirstName": "Ada", "Email": "resident@example.org"}
    assert case.location == {
        "Street": "Towpath by Mill Bridge",
        "Coordinates": {"Latitude": 51.4613, "Longitude": -0.3037},
    }
    submission = await runtime_of(gateway).store.by_key(CITY, case.external_reference or "")
    assert submission is not None and submission.service_request_id == number

    [request] = await both_formats(gateway, f"/requests/{number}")
    assert request == {
        "service_request_id": "CW-000001",
        "status": "open",
        "service_name": "Fly-tipping",
        "service_code": "EN-FLY",
        "description": "Drums leaking onto the towpath",
        "agency_responsible": "Environment",
        "requested_datetime": START.isoformat().replace("+00:00", "Z"),
        "updated_datetime": START.isoformat().replace("+00:00", "Z"),
        "expected_datetime": (START + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "address": "Towpath by Mill Bridge",
        "lat": 51.4613,
        "long": -0.3037,
    }


async def test_an_unknown_case_is_not_found(gateway: TestClient) -> None:
    response = await gateway.get("/requests/CW-999999.json")
    assert response.status == 404
    assert await response.json() == [
        {"code": 404, "description": "service_request_id: no request 'CW-999999'"}
    ]


async def test_search_with_each_filter(gateway: TestClient, crm: SoapCrm, clock: Clock) -> None:
    numbers = []
    for key, form in enumerate((POTHOLE, FLY_TIPPING, POTHOLE)):
        numbers.append(await created(gateway, form, f"k{key}"))
        clock.advance(hours=1)
    crm.crm.resolve(numbers[0], "Filled")

    async def found(**params: str) -> list[str]:
        return [r["service_request_id"] for r in await both_formats(gateway, "/requests", **params)]

    assert await found() == ["CW-000003", "CW-000002", "CW-000001"]
    assert await found(service_code="RD-POT") == ["CW-000003", "CW-000001"]
    assert await found(service_code="EN-FLY,PK-TRE") == ["CW-000002"]
    assert await found(status="closed") == ["CW-000001"]
    assert await found(status="open", service_code="RD-POT") == ["CW-000003"]
    hour = timedelta(hours=1)
    window = {"start_date": _iso(START + hour), "end_date": _iso(START + 2 * hour)}
    assert await found(**window) == ["CW-000002"]
    assert await found(start_date=_iso(START + hour)) == ["CW-000003", "CW-000002"]
    assert await found(service_request_id="CW-000003,CW-000001,CW-000404") == [
        "CW-000003",
        "CW-000001",
    ]
    [closed] = await both_formats(gateway, "/requests", service_request_id="CW-000001")
    assert (closed["status"], closed["status_notes"]) == ("closed", "Filled")


async def test_updates_both_ways(gateway: TestClient, crm: SoapCrm, clock: Clock) -> None:
    pothole = await created(gateway, POTHOLE)
    clock.advance(minutes=30)
    crm.crm.add_note(pothole, author="officer", text="Crew booked", new_status="Assigned")
    window = {"start_date": _iso(START), "end_date": _iso(START + timedelta(hours=1))}
    updates = await both_formats(gateway, "/servicerequestupdates", **window)
    assert [(u["update_id"], u["status"], u["external_status_code"]) for u in updates] == [
        ("1", "open", "Logged"),
        ("2", "action_scheduled", "Assigned"),
    ]
    assert updates[1]["description"] == "Crew booked"

    clock.advance(minutes=30)
    response = await gateway.post(
        "/servicerequestupdates.json",
        data={
            "api_key": API_KEY,
            "service_request_id": pothole,
            "update_id": "fms-7",
            "status": "FIXED",
            "updated_datetime": _iso(clock.now),
            "description": "Filled this morning",
        },
    )
    assert response.status == 200, await response.text()
    [posted] = await response.json()
    assert (posted["update_id"], posted["status"]) == ("3", "fixed")
    note = crm.crm.get_case(pothole).notes[-1]
    assert (note.author, note.text, note.case_status) == (
        "public",
        "Filled this morning",
        "Resolved",
    )
    [closed] = await both_formats(gateway, f"/requests/{pothole}")
    assert closed["status"] == "closed"


async def test_backend_faults_become_open311_errors(gateway: TestClient, crm: SoapCrm) -> None:
    unknown = await gateway.post(
        "/servicerequestupdates.json",
        data={
            "api_key": API_KEY,
            "service_request_id": "CW-999999",
            "update_id": "fms-8",
            "status": "OPEN",
            "updated_datetime": _iso(START),
            "description": "Still there",
        },
    )
    assert unknown.status == 404
    [error] = await unknown.json()
    assert "CASE_NOT_FOUND" in error["description"]

    crm.crm.retire_case_type("RD-POT")  # the catalogue still lists it until its refresh
    refused = await gateway.post("/requests.json", data=POTHOLE)
    assert refused.status == 400
    [error] = await refused.json()
    assert "no active case type 'RD-POT'" in error["description"]

    crm.fault_rate = 1.0
    busy = await gateway.get("/requests.json")
    assert busy.status == 503 and busy.headers["Retry-After"]
    [error] = await busy.json()
    assert "BUSY" in error["description"]


async def test_an_outage_is_absorbed_by_the_queue_and_drained(
    gateway: TestClient, crm: SoapCrm
) -> None:
    runtime = runtime_of(gateway)
    runtime.tenants.resolve(CITY).sync_wait = 0.0
    crm.outage = True
    tokens = []
    for index in range(6):
        response = await gateway.post(
            "/requests.json", data=POTHOLE, headers={"Idempotency-Key": f"outage-{index}"}
        )
        assert response.status == 200
        [receipt] = await response.json()
        tokens.append(receipt["token"])
    assert crm.crm.cases == []
    assert await runtime.queue.depth() == 6

    crm.outage = False
    await drained(runtime)
    references = sorted(case.external_reference or "" for case in crm.crm.cases)
    assert references == sorted(f"header:outage-{index}" for index in range(6))
    for token in tokens:
        [resolved] = await both_formats(gateway, f"/tokens/{token}")
        assert resolved["service_request_id"].startswith("CW-")
    for index in range(6):
        submission = await runtime.store.by_key(CITY, f"header:outage-{index}")
        assert submission is not None and submission.state is SubmissionState.DELIVERED


async def test_the_deploy_example_serves_on_the_simulators_defaults(
    aiohttp_client, tmp_path: Path, crm: SoapCrm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPEN311_API_KEY", API_KEY)
    monkeypatch.setenv("BACKEND_URL", crm.wsdl_url)
    config = load_config(DEPLOY_EXAMPLE)
    config.gateway.store_url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    config.gateway.queue_url = f"sqlite:///{tmp_path / 'queue.db'}"
    client = await aiohttp_client(GatewayTestServer(Runtime(config)))
    assert len(await both_formats(client, "/services")) == 5
    assert await created(client, POTHOLE) == "CW-000001"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
