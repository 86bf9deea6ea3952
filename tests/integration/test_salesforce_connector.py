"""The Salesforce connector against the simulator over TLS: every operation, the three
login flows, renewed sessions, typed errors, timeouts and the thread bound."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from connectors.base import (
    BackendQuery,
    NotFoundError,
    PermanentError,
    Range,
    TransientError,
    UnsupportedError,
)
from connectors.salesforce import SalesforceConnector
from connectors.salesforce.client import Client
from connectors.testing.salesforce import Credentials, Org, RunningSimulator, running_salesforce
from connectors.testing.salesforce.objects import FieldSpec, ObjectSpec, Picklist
from connectors.testing.salesforce.server import signing_key

from salesforce_backend import schema, settings

CASE = {"Type": "Pothole", "Subject": "Pothole at 1 High Street", "Description": "Deep"}


@pytest.fixture
def salesforce() -> Iterator[RunningSimulator]:
    with running_salesforce() as running:
        yield running


@pytest.fixture
async def connector(salesforce: RunningSimulator) -> AsyncIterator[SalesforceConnector]:
    connector = SalesforceConnector(settings(salesforce), schema(), timeout=5)
    await connector.start()
    try:
        yield connector
    finally:
        await connector.close()


async def started(running: RunningSimulator, **changes: Any) -> SalesforceConnector:
    timeout = changes.pop("timeout", 5)
    connector = SalesforceConnector(settings(running, **changes), schema(), timeout=timeout)
    await connector.start()
    return connector


async def test_create_upserts_on_the_key_and_reads_the_case_back(
    connector: SalesforceConnector, salesforce: RunningSimulator
) -> None:
    created = await connector.create({**CASE, "Latitude__c": 51.5}, "header:report-1")
    assert created["Open311_Key__c"] == "header:report-1"
    assert created["CaseNumber"] and created["Status"] == "New"
    assert "attributes" not in created
    again = await connector.create(CASE, "header:report-1")
    assert again["Id"] == created["Id"]
    assert len(salesforce.org.rows("Case")) == 1
    assert await connector.find_by_reference("header:report-1") == again
    assert await connector.find_by_reference("header:report-2") is None


async def test_an_older_api_version_answers_an_update_without_a_body(
    salesforce: RunningSimulator,
) -> None:
    connector = await started(salesforce, api_version="45.0")
    try:
        created = await connector.create(CASE, "k")
        again = await connector.create({**CASE, "Subject": "Changed"}, "k")
        assert again["Id"] == created["Id"] and again["Subject"] == "Changed"
    finally:
        await connector.close()


async def test_keys_with_url_characters_address_their_own_case(
    connector: SalesforceConnector, salesforce: RunningSimulator
) -> None:
    keys = ["param:attribute[id]=7/../8", "a key?with#marks&more", "%2E%2E", "..x", "ü 🚧"]
    ids = {key: (await connector.create(CASE, key))["Id"] for key in keys}
    assert len(set(ids.values())) == len(keys)
    stored = {row["Open311_Key__c"]: row["Id"] for row in salesforce.org.rows("Case")}
    assert stored == ids
    with pytest.raises(PermanentError, match="dots alone"):
        await connector.create(CASE, "..")


async def test_payload_values_are_written_as_salesforce_takes_them(
    connector: SalesforceConnector,
) -> None:
    payload = {
        **CASE,
        "Open311_Attributes__c": {"depth": "12", "waste": ["tyres", "sofa"]},
        "Latitude__c": 51.5072,
    }
    created = await connector.create(payload, "k")
    assert created["Open311_Attributes__c"] == '{"depth": "12", "waste": ["tyres", "sofa"]}'
    assert created["Latitude__c"] == 51.5072


async def test_get_leaves_out_unknown_and_malformed_ids(connector: SalesforceConnector) -> None:
    first = await connector.create(CASE, "k1")
    second = await connector.create(CASE, "k2")
    unknown = "5005g00000000ZZ"
    found = await connector.get([second["Id"], first["Id"][:15], unknown, "not-an-id", "x' OR"])
    assert sorted(record["Id"] for record in found) == sorted([first["Id"], second["Id"]])
    assert await connector.get(["nope"]) == []


async def test_search_filters_and_orders_newest_first(
    connector: SalesforceConnector, salesforce: RunningSimulator
) -> None:
    ids = [
        (await connector.create({**CASE, "Type": kind}, f"k{i}"))["Id"]
        for i, kind in enumerate(["Pothole", "Graffiti", "Pothole"])
    ]
    potholes = BackendQuery(any_of={"Type": ("Pothole",)}, order_by="CreatedDate")
    assert [r["Id"] for r in await connector.search(potholes)] == [ids[2], ids[0]]
    assert await connector.search(BackendQuery(any_of={"Type": ()})) == []
    now = datetime.now(UTC)
    window = BackendQuery(
        ranges={"CreatedDate": Range(now - timedelta(hours=1), now + timedelta(hours=1))}
    )
    assert len(await connector.search(window)) == 3
    future = BackendQuery(ranges={"CreatedDate": Range(now + timedelta(hours=1), None)})
    assert await connector.search(future) == []
    assert [r["Id"] for r in await connector.search(BackendQuery(limit=1))] == [ids[2]]
    assert [r["Id"] for r in await connector.search(BackendQuery(ids=(ids[1], "bad")))] == [ids[1]]
    statement = salesforce.simulator.queries()[-1]
    assert "ORDER BY CreatedDate DESC, Id DESC LIMIT 1000" in statement


async def test_search_pages_through_large_results() -> None:
    with running_salesforce(page_size=2) as running:
        connector = await started(running)
        try:
            for i in range(5):
                await connector.create(CASE, f"k{i}")
            assert len(await connector.search(BackendQuery())) == 5
        finally:
            await connector.close()


async def test_window_bounds_with_fractions_hold_whole_second_values(
    connector: SalesforceConnector, salesforce: RunningSimulator
) -> None:
    created = await connector.create(CASE, "k")
    at = datetime.fromisoformat(created["CreatedDate"])
    just_after = BackendQuery(ranges={"CreatedDate": Range(at + timedelta(microseconds=1), None)})
    assert await connector.search(just_after) == []
    up_to = BackendQuery(ranges={"CreatedDate": Range(None, at + timedelta(microseconds=1))})
    assert len(await connector.search(up_to)) == 1


async def test_citizen_updates_are_comments_and_published_ones_are_updates(
    connector: SalesforceConnector, salesforce: RunningSimulator
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    case = await connector.create(CASE, "k")
    comment = await connector.post_update(
        {
            "ParentId": case["Id"],
            "CommentBody": "Still there",
            "IsPublished": True,
            "parent": {"Status": "Closed"},
        }
    )
    assert comment["CommentBody"] == "Still there"
    assert comment["parent"]["Status"] == "Closed"
    [stored] = salesforce.org.rows("CaseComment")
    assert stored["ParentId"] == case["Id"]
    salesforce.org.create("CaseComment", {"ParentId": case["Id"], "CommentBody": "internal"})
    until = datetime.now(UTC) + timedelta(seconds=1)
    [update] = await connector.updates(since, until)
    assert update["Id"] == comment["Id"] and update["parent"]["Id"] == case["Id"]
    assert update["parent"]["Status"] == "Closed"
    assert await connector.updates(until, until + timedelta(hours=1)) == []


async def test_an_update_for_no_request_is_not_found(connector: SalesforceConnector) -> None:
    for reference in ["5005g00000000ZZAAA", "not an id"]:
        with pytest.raises(NotFoundError):
            await connector.post_update({"ParentId": reference, "CommentBody": "x"})
    with pytest.raises(PermanentError, match="names no request"):
        await connector.post_update({"CommentBody": "x"})


async def test_updates_from_history_and_from_last_modified(salesforce: RunningSimulator) -> None:
    history = {
        **schema(),
        "updates": {
            "sobject": "CaseHistory",
            "parent": "CaseId",
            "fields": ["Id", "CaseId", "Field", "OldValue", "NewValue", "CreatedDate"],
        },
    }
    modified = {**schema(), "updates": {"last_modified": "LastModifiedDate"}}
    since = datetime.now(UTC) - timedelta(seconds=1)
    by_history = SalesforceConnector(settings(salesforce), history, timeout=5)
    by_change = SalesforceConnector(settings(salesforce), modified, timeout=5)
    for connector in (by_history, by_change):
        await connector.start()
    try:
        case = await by_history.create(CASE, "k")
        answer = await by_change.post_update(
            {"ParentId": case["Id"], "CommentBody": "Fixed", "parent": {"Status": "Closed"}}
        )
        assert answer["Id"] == case["Id"] and answer["Status"] == "Closed"
        until = datetime.now(UTC) + timedelta(seconds=1)
        changes = await by_history.updates(since, until)
        assert [(c["Field"], c["NewValue"]) for c in changes] == [
            ("created", None),
            ("Status", "Closed"),
        ]
        assert all(c["parent"]["Id"] == case["Id"] for c in changes)
        [changed] = await by_change.updates(since, until)
        assert changed["Id"] == case["Id"] and changed["Status"] == "Closed"
    finally:
        for connector in (by_history, by_change):
            await connector.close()


async def test_catalogue_is_the_active_picklist_values(connector: SalesforceConnector) -> None:
    services = await connector.list_services()
    assert [(s["value"], s["label"]) for s in services] == [
        ("Pothole", "Pothole"),
        ("Streetlight", "Street light out"),
        ("Graffiti", "Graffiti"),
        ("Abandoned Vehicle", "Abandoned vehicle"),
    ]


async def test_operations_the_mapping_does_not_describe_are_unsupported(
    salesforce: RunningSimulator,
) -> None:
    bare = {k: v for k, v in schema().items() if k not in ("services", "comments", "updates")}
    connector = SalesforceConnector(settings(salesforce), bare, timeout=5)
    assert connector.capabilities_for(bare) == SalesforceConnector.capabilities
    await connector.start()
    try:
        with pytest.raises(UnsupportedError):
            await connector.list_services()
        with pytest.raises(UnsupportedError):
            await connector.post_update({"ParentId": "x"})
        now = datetime.now(UTC)
        with pytest.raises(UnsupportedError):
            await connector.updates(now, now)
    finally:
        await connector.close()


async def test_validation_errors_are_permanent_with_salesforce_message(
    connector: SalesforceConnector,
) -> None:
    with pytest.raises(PermanentError) as refused:
        await connector.create({**CASE, "Type": "Volcano"}, "k")
    assert refused.value.reason == (
        "Salesforce refused the request: INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: "
        "Type: bad value for restricted picklist field: Volcano (fields: Type)"
    )
    with pytest.raises(PermanentError, match="STRING_TOO_LONG: Subject"):
        await connector.create({**CASE, "Subject": "x" * 256}, "k")
    with pytest.raises(PermanentError, match="INVALID_FIELD: No such column 'Colour__c'"):
        await connector.create({**CASE, "Colour__c": "red"}, "k")


@pytest.mark.parametrize("failure", ["limit", "unavailable", "error"])
async def test_limits_and_server_errors_are_transient(
    connector: SalesforceConnector, salesforce: RunningSimulator, failure: str
) -> None:
    await connector.health()
    salesforce.knobs.fail_next(1, failure)  # type: ignore[arg-type]
    with pytest.raises(TransientError, match="Salesforce is unavailable"):
        await connector.create(CASE, "k")
    assert (await connector.create(CASE, "k"))["Open311_Key__c"] == "k"


async def test_an_expired_session_is_renewed_once_and_the_call_sent_again(
    connector: SalesforceConnector, salesforce: RunningSimulator
) -> None:
    await connector.create(CASE, "k1")
    assert (connector.logins, salesforce.simulator.grants) == (1, 1)
    salesforce.simulator.expire_sessions()
    assert (await connector.create(CASE, "k2"))["Open311_Key__c"] == "k2"
    assert (connector.logins, salesforce.simulator.grants) == (2, 2)


async def test_concurrent_calls_on_an_expired_session_renew_it_once(
    connector: SalesforceConnector, salesforce: RunningSimulator
) -> None:
    await connector.health()
    salesforce.simulator.expire_sessions()
    await asyncio.gather(*(connector.create(CASE, f"k{i}") for i in range(8)))
    assert connector.logins == 2


@pytest.mark.parametrize(
    "auth",
    [
        {
            "flow": "password",
            "client_id": "open311-gateway",
            "client_secret": "simulator-secret",
            "username": "integration@example.city",
            "password": "simulator-password",
            "security_token": "simulator-token",
        },
        {
            "flow": "client_credentials",
            "client_id": "open311-gateway",
            "client_secret": "simulator-secret",
        },
    ],
    ids=["password", "client_credentials"],
)
async def test_password_and_client_credentials_flows(
    salesforce: RunningSimulator, auth: dict[str, str]
) -> None:
    connector = await started(salesforce, auth=auth)
    try:
        await connector.health()
        wrong = {**auth, "client_secret": "guess"}
        refused = await started(salesforce, auth=wrong)
        try:
            with pytest.raises(
                TransientError, match=r"refused the gateway.s credentials.*invalid_grant"
            ):
                await refused.health()
        finally:
            await refused.close()
    finally:
        await connector.close()


async def test_jwt_bearer_flow(tmp_path: Path) -> None:
    key_file = tmp_path / "key.pem"
    credentials = Credentials(jwt_public_key=signing_key(key_file))
    with running_salesforce(credentials=credentials) as running:
        auth = {
            "flow": "jwt_bearer",
            "client_id": "open311-gateway",
            "username": "integration@example.city",
            "private_key_file": str(key_file),
            "audience": running.url,
        }
        connector = await started(running, auth=auth)
        other = await started(running, auth={**auth, "username": "someone@else"})
        try:
            await connector.health()
            with pytest.raises(TransientError, match="credentials"):
                await other.health()
        finally:
            await connector.close()
            await other.close()


async def test_a_server_not_signed_by_the_configured_ca_is_refused(
    salesforce: RunningSimulator,
) -> None:
    connector = await started(salesforce, ca_file=None)  # the system's CAs only
    try:
        with pytest.raises(TransientError, match="SSLError"):
            await connector.health()
    finally:
        await connector.close()


async def test_the_configured_ca_is_trusted_whatever_the_environment_says(
    salesforce: RunningSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """REQUESTS_CA_BUNDLE overrides a requests session's own `verify` (requests issue
    3829): the connector's CA must win all the same."""
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other))
    connector = await started(salesforce)
    try:
        await connector.health()
    finally:
        await connector.close()


async def test_a_slow_salesforce_is_a_timeout(salesforce: RunningSimulator) -> None:
    connector = await started(salesforce, timeout=0.2)
    salesforce.knobs.latency = 1.0
    try:
        with pytest.raises(TransientError, match="did not answer"):
            await connector.create(CASE, "k")
    finally:
        salesforce.knobs.latency = 0.0
        await connector.close()


async def test_calls_beyond_the_thread_bound_wait_and_the_loop_stays_free(
    salesforce: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = await started(salesforce, threads=2)
    in_use, peak, lock = 0, 0, threading.Lock()
    call = Client.call

    def counted(client: Client, request: Any) -> Any:
        nonlocal in_use, peak
        with lock:
            in_use += 1
            peak = max(peak, in_use)
        try:
            return call(client, request)
        finally:
            with lock:
                in_use -= 1

    monkeypatch.setattr(Client, "call", counted)
    try:
        await connector.health()  # logged in
        salesforce.knobs.hold()
        creates = asyncio.gather(*(connector.create(CASE, f"k{i}") for i in range(6)))
        # Two calls wait in Salesforce, on the two threads; this line runs meanwhile, so
        # the event loop is not waiting with them.
        assert await asyncio.to_thread(salesforce.knobs.wait_held, 2, 10)
        assert not creates.done() and peak == 2
        salesforce.knobs.release()
        assert len(await creates) == 6
    finally:
        salesforce.knobs.release()
        await connector.close()
    assert peak == 2


async def test_what_soql_cannot_hold_is_the_mappings_to_fix(salesforce: RunningSimulator) -> None:
    updates = {**schema()["updates"], "match": {"IsPublished": float("nan")}}
    connector = SalesforceConnector(
        settings(salesforce), {**schema(), "updates": updates}, timeout=5
    )
    await connector.start()
    try:
        now = datetime.now(UTC)
        with pytest.raises(PermanentError, match="cannot be written in SOQL"):
            await connector.updates(now, now)
        with pytest.raises(PermanentError, match="not a Salesforce field"):
            await connector.search(BackendQuery(any_of={"Site.Street": ("x",)}))
    finally:
        await connector.close()


async def test_any_sobject_with_an_external_id() -> None:
    request = ObjectSpec(
        "Service_Request__c",
        "a0B",
        (
            FieldSpec("Id", "id", createable=False, updateable=False),
            FieldSpec("Category__c", "picklist", picklist=(Picklist("ROAD", "Roads"),)),
            FieldSpec("Ref__c", "string", external_id=True, unique=True),
            FieldSpec("CreatedDate", "datetime", createable=False, updateable=False),
        ),
    )
    backend = {
        "sobject": "Service_Request__c",
        "external_id": "Ref__c",
        "fields": ["Id", "Category__c", "Ref__c", "CreatedDate"],
        "services": {"picklist": "Category__c"},
    }
    with running_salesforce(org=Org([request])) as running:
        connector = SalesforceConnector(settings(running), backend, timeout=5)
        await connector.start()
        try:
            created = await connector.create({"Category__c": "ROAD"}, "k")
            assert created["Id"].startswith("a0B") and created["Ref__c"] == "k"
            found = await connector.search(BackendQuery(any_of={"Category__c": ("ROAD",)}))
            assert found == [created]
            assert [s["label"] for s in await connector.list_services()] == ["Roads"]
        finally:
            await connector.close()
