"""SOQL injection through every Open311 field, proved on what Salesforce receives.

Each test sends text written to break out of a SOQL literal through the gateway, then
parses every statement the simulator received and compares it with the statement the
connector means to send: the same fields, object and conditions, the attempt standing
whole as one literal value. Stored records hold the text exactly as it was sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from connectors.testing.salesforce import RunningSimulator, running_salesforce
from connectors.testing.salesforce.soql import (
    Comparison,
    Junction,
    Membership,
    Order,
    Query,
    parse,
)
from gateway.mapping import load_mapping

from clientforms import API_KEY
from salesforce_backend import MAPPING, gateway_client, mapping_variant

ATTEMPTS = [
    "' OR Id != null OR Subject = '",
    "\\' OR Type != '",
    "x') OR (Type != 'x",
    "%' OR Subject LIKE '%",
    "\\",
    "\\\\' OR Status = 'Closed",
    "'; DELETE FROM Case; --",
    '" OR ""="',
    "Pothole' OR Status = 'Closed' OR Type = 'Graffiti",
    "tab\there\nnew line' OR IsClosed = false OR Subject = '",
    "ü∑' OR '1'='1",
    "') LIMIT 1 --",
]
FREE_TEXT = [
    "description",
    "address_string",
    "address_id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "device_id",
    "account_id",
    "media_url",
    "attribute[pole]",
]
CASE_FIELDS = tuple(load_mapping(MAPPING).backend["fields"])
COMMENT_FIELDS = tuple(load_mapping(MAPPING).backend["comments"]["fields"])
NEWEST_FIRST = (Order("CreatedDate", True), Order("Id", True))


@pytest.fixture
def salesforce() -> Iterator[RunningSimulator]:
    with running_salesforce() as running:
        yield running


@pytest.fixture
async def gateway(aiohttp_client, tmp_path: Path, salesforce: RunningSimulator) -> TestClient:
    """Example City, its reports keyed by the (free text) pole number attribute."""
    return await gateway_client(
        aiohttp_client, salesforce, tmp_path, API_KEY, idempotency_param="attribute[pole]"
    )


@pytest.fixture
async def by_case_number(aiohttp_client, tmp_path: Path, salesforce: RunningSimulator):
    """The same city publishing CaseNumbers as its ids, so that ids given by clients
    reach SOQL as text (record ids that are not well-formed never do)."""
    mapping = mapping_variant(
        tmp_path / "by-number.yaml",
        ("  id: Id\n", "  id: CaseNumber\n"),
        ("service_request_id: Id\n", "service_request_id: CaseNumber\n"),
        ("service_request_id: ParentId\n", "service_request_id: parent.CaseNumber\n"),
    )
    return await gateway_client(aiohttp_client, salesforce, tmp_path, API_KEY, mapping=mapping)


def received(salesforce: RunningSimulator) -> list[Query]:
    return [parse(statement) for statement in salesforce.simulator.queries()]


def case_by(field: str, value: str) -> Query:
    return Query(CASE_FIELDS, "Case", Comparison(field, "=", value), limit=1)


def report(text: str) -> dict[str, str]:
    return {
        "api_key": API_KEY,
        "service_code": "Streetlight",
        "lat": "51.5",
        "long": "-0.12",
        **dict.fromkeys(FREE_TEXT, text),
    }


def searched(text: str) -> tuple[str, ...]:
    """A comma list as the gateway reads it: items stripped, blanks dropped."""
    return tuple(dict.fromkeys(item.strip() for item in text.split(",") if item.strip()))


async def created(
    gateway: TestClient,
    salesforce: RunningSimulator,
    data: dict[str, str],
    key: str,
    **headers: str,
) -> dict[str, object]:
    """The Case a POST made, its first delivery failed so that the next looks the key up
    first; checked against the two statements that delivery sends."""
    salesforce.simulator.forget_queries()
    salesforce.knobs.fail_next(1, "unavailable")
    response = await gateway.post("/requests.json", data=data, headers=headers)
    assert response.status == 200, await response.text()
    [case] = salesforce.org.find("Case", "Open311_Key__c", key)
    assert received(salesforce) == [case_by("Open311_Key__c", key), case_by("Id", case["Id"])]
    return case


async def test_post_fields_and_key_are_values_only(
    gateway: TestClient, salesforce: RunningSimulator
) -> None:
    for text in ATTEMPTS:
        case = await created(gateway, salesforce, report(text), f"param:attribute[pole]={text}")
        assert case["Description"] == text
        assert (case["Address__c"], case["Address_Id__c"], case["Media_URL__c"]) == (text,) * 3
        assert (case["Device_Id__c"], case["Account_Id__c"]) == (text, text)
        assert (case["SuppliedEmail"], case["SuppliedPhone"]) == (text[:80], text[:40])
        assert json.loads(str(case["Open311_Attributes__c"])) == {"pole": text}


async def test_an_idempotency_key_header_is_a_value_only(
    gateway: TestClient, salesforce: RunningSimulator
) -> None:
    for number, text in enumerate(a for a in ATTEMPTS if a.isascii() and "\n" not in a):
        key = f"header:{text.strip()}"
        data = report(f"P-{number}")
        await created(gateway, salesforce, data, key, **{"Idempotency-Key": text})


async def test_searched_codes_are_values_only(
    gateway: TestClient, salesforce: RunningSimulator
) -> None:
    for text in ATTEMPTS:
        await search_codes(gateway, salesforce, text)


async def search_codes(gateway: TestClient, salesforce: RunningSimulator, text: str) -> None:
    salesforce.simulator.forget_queries()
    response = await gateway.get("/requests.json", params={"service_code": text})
    assert response.status == 200, await response.text()
    assert await response.json() == []
    [query] = received(salesforce)
    assert (query.fields, query.sobject, query.order_by, query.limit) == (
        CASE_FIELDS,
        "Case",
        NEWEST_FIRST,
        1000,
    )
    assert isinstance(query.where, Junction) and query.where.operator == "AND"
    codes, *window = query.where.conditions
    assert codes == Membership("Type", searched(text))
    assert [(c.field, c.operator) for c in window] == [("CreatedDate", ">="), ("CreatedDate", "<")]
    assert all(isinstance(c, Comparison) and isinstance(c.value, datetime) for c in window)


def citizen_update(service_request_id: str, **fields: str) -> dict[str, str]:
    return {
        "api_key": API_KEY,
        "service_request_id": service_request_id,
        "update_id": "fms-1",
        "status": "OPEN",
        "updated_datetime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "description": "Still there",
        **fields,
    }


async def test_ids_that_are_not_record_ids_never_reach_soql(
    gateway: TestClient, salesforce: RunningSimulator
) -> None:
    salesforce.simulator.forget_queries()
    for text in ATTEMPTS:
        listed = await gateway.get("/requests.json", params={"service_request_id": text})
        assert (listed.status, await listed.json()) == (200, [])
        posted = await gateway.post("/servicerequestupdates.json", data=citizen_update(text))
        assert posted.status == 404
    assert salesforce.simulator.queries() == []


async def test_ids_given_as_text_are_values_only(
    by_case_number: TestClient, salesforce: RunningSimulator
) -> None:
    for text in ATTEMPTS:
        salesforce.simulator.forget_queries()
        listed = await by_case_number.get("/requests.json", params={"service_request_id": text})
        assert (listed.status, await listed.json()) == (200, [])
        assert received(salesforce) == [
            Query(CASE_FIELDS, "Case", Membership("CaseNumber", searched(text)))
        ]
        salesforce.simulator.forget_queries()
        posted = await by_case_number.post("/servicerequestupdates.json", data=citizen_update(text))
        assert posted.status == 404
        assert received(salesforce) == [case_by("CaseNumber", text.strip())]


async def test_an_update_is_a_value_only(
    by_case_number: TestClient, salesforce: RunningSimulator
) -> None:
    created = await by_case_number.post("/requests.json", data=report("P-7"))
    [receipt] = await created.json()
    number = receipt["service_request_id"]
    for text in ATTEMPTS:
        salesforce.simulator.forget_queries()
        fields = ("update_id", "description", "email", "first_name", "last_name", "account_id")
        update = citizen_update(number, media_url=text, **dict.fromkeys(fields, text))
        posted = await by_case_number.post("/servicerequestupdates.json", data=update)
        assert posted.status == 200, await posted.text()
        [answer] = await posted.json()
        assert answer["service_request_id"] == number
        [comment] = salesforce.org.find("CaseComment", "CommentBody", text)
        assert received(salesforce) == [
            case_by("CaseNumber", number),
            Query(COMMENT_FIELDS, "CaseComment", Comparison("Id", "=", comment["Id"])),
        ]
