"""The open311 connector against a second gateway on loopback, in JSON and in XML: every
operation through the federation mapping, the key found again, and the upstream's
refusals, outages and stalls as the connector's typed errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultProxy

from connectors.base import (
    BackendQuery,
    Capability,
    NotFoundError,
    PermanentError,
    TransientError,
)
from connectors.upstream import UpstreamConnector
from gateway.mapping import CompiledMapping, MappingContext, load_mapping
from gateway.open311.models import (
    Location,
    NewRequestUpdate,
    NewServiceRequest,
    RequestQuery,
    RequestStatus,
    ServiceRequest,
    UpdateStatus,
)
from gateway.runtime import Runtime
from mappings import mapping_path

from gateways import FEDERATION, upstream_connector, upstream_gateway

FORMATS = ["json", "xml"]
POT_ANSWERS = {"depth": "12", "position": "junction"}


@pytest.fixture(scope="module")
def mapping() -> CompiledMapping:
    return load_mapping(FEDERATION)


@pytest.fixture
async def upstream(
    aiohttp_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, Runtime]:
    return await upstream_gateway(aiohttp_client, tmp_path / "upstream", monkeypatch)


@pytest.fixture(params=FORMATS)
async def connector(
    request: pytest.FixtureRequest, upstream: tuple[str, Runtime]
) -> AsyncIterator[UpstreamConnector]:
    async with started(upstream_connector(upstream[0], request.param)) as connector:
        yield connector


class started:
    """A connector started for the block, closed after it."""

    def __init__(self, connector: UpstreamConnector) -> None:
        self.connector = connector

    async def __aenter__(self) -> UpstreamConnector:
        await self.connector.start()
        return self.connector

    async def __aexit__(self, *_: object) -> None:
        await self.connector.close()


def context(key: str) -> MappingContext:
    return MappingContext("federated.city", key, datetime.now(UTC))


def report(code: str = "POT", **changes: Any) -> NewServiceRequest:
    fields: dict[str, Any] = {
        "service_code": code,
        "location": Location(lat=51.5072, long=-0.1276, address_string="1 High Street"),
        "attributes": POT_ANSWERS if code == "POT" else {},
        "description": f"A {code} report",
        "email": "alice@example.org",
        "first_name": "Alice",
    }
    return NewServiceRequest(**(fields | changes))


async def create(
    connector: UpstreamConnector, mapping: CompiledMapping, key: str, request: NewServiceRequest
) -> ServiceRequest:
    """`request` created upstream under `key`, read back whole."""
    record = await connector.create(mapping.create_payload(request, context(key)), key)
    [stored] = await connector.get([mapping.service_request_id(record)])
    assert record == stored
    return mapping.service_request(stored)


async def fix(connector: UpstreamConnector, mapping: CompiledMapping, request_id: str) -> Any:
    update = NewRequestUpdate(
        service_request_id=request_id,
        update_id=f"fms-{request_id}",
        status=UpdateStatus.FIXED,
        updated_datetime=datetime.now(UTC),
        description="Filled this morning",
    )
    return await connector.post_update(mapping.update_payload(update, context("update")))


async def upstream_ticket(runtime: Runtime, request_id: str) -> dict[str, Any]:
    """The upstream's own backend record: what its SQL connector stored."""
    tenant = runtime.tenants.get("example.city")
    assert tenant is not None
    [ticket] = await tenant.connector.get([request_id])
    return ticket


# --- the catalogue ----------------------------------------------------------------------


async def test_the_catalogue_comes_whole_with_its_definitions(
    connector: UpstreamConnector, mapping: CompiledMapping
) -> None:
    assert mapping.backend_catalogue is not None
    contents = mapping.backend_catalogue.build(await connector.list_services())
    served_upstream = load_mapping(mapping_path("embedded.yaml"))
    assert contents.services == served_upstream.services
    assert contents.definitions == served_upstream.definitions
    assert "DOG" not in contents.definitions  # a service without metadata has none


# --- create, find, get ------------------------------------------------------------------


async def test_create_writes_the_key_where_the_upstream_keeps_it(
    connector: UpstreamConnector, mapping: CompiledMapping, upstream: tuple[str, Runtime]
) -> None:
    created = await create(connector, mapping, "key-1", report())
    assert (created.service_code, created.status) == ("POT", RequestStatus.OPEN)
    assert (created.description, created.lat, created.address) == (
        "A POT report",
        51.5072,
        "1 High Street",
    )
    ticket = await upstream_ticket(upstream[1], created.service_request_id)
    assert ticket["external_ref"] == "header:key-1"  # the upstream's own idempotency key
    assert json.loads(ticket["details"]) == {**POT_ANSWERS, "gateway_ref": "key-1"}
    assert ticket["reporter_email"] == "alice@example.org"


async def test_find_by_reference_finds_what_was_created(
    connector: UpstreamConnector, mapping: CompiledMapping
) -> None:
    created = await create(connector, mapping, "key-2", report())
    found = await connector.find_by_reference("key-2")
    assert found is not None
    assert mapping.service_request(found) == created
    assert await connector.find_by_reference("never-used") is None


async def test_a_repeated_create_gets_the_first_request(
    connector: UpstreamConnector, mapping: CompiledMapping
) -> None:
    payload = mapping.create_payload(report(), context("key-3"))
    first = await connector.create(payload, "key-3")
    again = await connector.create(payload, "key-3")
    assert mapping.service_request_id(again) == mapping.service_request_id(first)


async def test_a_key_too_long_for_a_header_travels_as_its_digest(
    connector: UpstreamConnector, mapping: CompiledMapping
) -> None:
    key = "param:attribute[fixmystreet_id]=" + "é" * 300
    created = await create(connector, mapping, key, report())
    found = await connector.find_by_reference(key)
    assert found is not None and mapping.service_request_id(found) == created.service_request_id


async def test_a_token_is_resolved_to_the_id(
    connector: UpstreamConnector, mapping: CompiledMapping
) -> None:
    """A batch service is answered with a token at once; the connector asks for its id."""
    payload = mapping.create_payload(report("BULKY", attributes={"items": "sofa"}), context("b"))
    record = await connector.create(payload, "key-batch")
    assert mapping.service_request(record).service_code == "BULKY"
    assert await connector.get([mapping.service_request_id(record)]) == [record]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_token_left_unresolved(
    upstream: tuple[str, Runtime], mapping: CompiledMapping, fmt: str
) -> None:
    """No polls allowed: an upstream that finds keys is asked again on the next delivery;
    with any other the record carries the token."""
    payload = mapping.create_payload(report("BULKY", attributes={"items": "sofa"}), context("t"))
    async with started(upstream_connector(upstream[0], fmt, token_polls=0)) as connector:
        with pytest.raises(TransientError, match="gave no id for its token"):
            await connector.create(payload, "key-token")
    settings = {"token_polls": 0, "reference": {"find": "none"}}
    async with started(upstream_connector(upstream[0], fmt, **settings)) as connector:
        record = await connector.create(payload, "key-token")
    assert record["token"] and "service_request_id" not in record


async def test_get_leaves_unknown_ids_out(
    connector: UpstreamConnector, mapping: CompiledMapping
) -> None:
    first = await create(connector, mapping, "key-4", report())
    second = await create(connector, mapping, "key-5", report("DOG"))
    ids = [first.service_request_id, "999999", second.service_request_id]
    found = [mapping.service_request(record) for record in await connector.get(ids)]
    assert sorted(found, key=lambda r: r.service_request_id) == [first, second]
    assert await connector.get(["999999"]) == []
    assert await connector.get(["not/an id"]) == []


async def test_json_and_xml_give_the_same_records(
    upstream: tuple[str, Runtime], mapping: CompiledMapping
) -> None:
    async with (
        started(upstream_connector(upstream[0], "json")) as as_json,
        started(upstream_connector(upstream[0], "xml")) as as_xml,
    ):
        created = await create(as_json, mapping, "key-6", report())
        ids = [created.service_request_id]
        assert await as_xml.get(ids) == await as_json.get(ids)
        assert await as_xml.list_services() == await as_json.list_services()


# --- search -----------------------------------------------------------------------------


async def test_search_with_each_filter(
    connector: UpstreamConnector, mapping: CompiledMapping
) -> None:
    before = datetime.now(UTC) - timedelta(minutes=1)
    pot = await create(connector, mapping, "s-1", report("POT"))
    dog = await create(connector, mapping, "s-2", report("DOG"))
    graffiti = await create(
        connector, mapping, "s-3", report("GRAF", attributes={"offensive": "no"})
    )
    await fix(connector, mapping, graffiti.service_request_id)
    after = datetime.now(UTC) + timedelta(minutes=1)

    async def ids(**filters: Any) -> set[str]:
        query = mapping.backend_query(RequestQuery(**filters))
        return {
            mapping.service_request(record).service_request_id
            for record in await connector.search(query)
        }

    everything = {pot.service_request_id, dog.service_request_id, graffiti.service_request_id}
    assert await ids() == everything
    assert await ids(service_request_ids=(dog.service_request_id,)) == {dog.service_request_id}
    assert await ids(service_codes=("DOG", "GRAF")) == {
        dog.service_request_id,
        graffiti.service_request_id,
    }
    assert await ids(statuses=(RequestStatus.CLOSED,)) == {graffiti.service_request_id}
    assert await ids(statuses=(RequestStatus.OPEN,)) == {
        pot.service_request_id,
        dog.service_request_id,
    }
    assert await ids(start=before, end=after) == everything
    assert await ids(start=before - timedelta(days=2), end=before - timedelta(days=1)) == set()
    assert len(await connector.search(BackendQuery(limit=2))) == 2


async def test_a_filter_no_value_can_match_finds_nothing(connector: UpstreamConnector) -> None:
    assert await connector.search(BackendQuery(any_of={"status": ()})) == []


async def test_a_filter_open311_does_not_have(connector: UpstreamConnector) -> None:
    with pytest.raises(PermanentError, match="cannot filter requests by 'priority'"):
        await connector.search(BackendQuery(any_of={"priority": ("HIGH",)}))


# --- updates ----------------------------------------------------------------------------


async def test_updates_pass_through(connector: UpstreamConnector, mapping: CompiledMapping) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    created = await create(connector, mapping, "u-1", report())
    posted = mapping.request_update(await fix(connector, mapping, created.service_request_id))
    assert (posted.service_request_id, posted.status) == (
        created.service_request_id,
        UpdateStatus.FIXED,
    )
    changes = await connector.updates(since, datetime.now(UTC) + timedelta(minutes=1))
    updates = [mapping.request_update(change) for change in changes]
    assert [update.status for update in updates] == [UpdateStatus.OPEN, UpdateStatus.FIXED]
    assert updates[1] == posted
    [closed] = await connector.get([created.service_request_id])
    assert mapping.service_request(closed).status is RequestStatus.CLOSED
    assert connector.supports(Capability.UPDATES)


async def test_an_update_for_an_unknown_request(
    connector: UpstreamConnector, mapping: CompiledMapping
) -> None:
    with pytest.raises(NotFoundError, match="404"):
        await fix(connector, mapping, "999999")


# --- refusals and failures --------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
async def test_the_jurisdiction_goes_with_every_call(
    upstream: tuple[str, Runtime], mapping: CompiledMapping, fmt: str
) -> None:
    url = upstream[0]
    async with started(upstream_connector(url, fmt, jurisdiction_id="example.city")) as connector:
        created = await create(connector, mapping, "key-j", report())
        assert created.service_code == "POT"
    async with started(upstream_connector(url, fmt, jurisdiction_id="other.city")) as connector:
        with pytest.raises(NotFoundError, match=r"unknown jurisdiction 'other\.city'"):
            await connector.health()
        with pytest.raises(NotFoundError, match=r"unknown jurisdiction 'other\.city'"):
            await connector.create(mapping.create_payload(report(), context("j")), "key-j")


async def test_an_upstream_400_is_permanent_with_its_description(
    connector: UpstreamConnector, mapping: CompiledMapping
) -> None:
    payload = mapping.create_payload(report(attributes={}), context("bad"))
    with pytest.raises(PermanentError) as refused:
        await connector.create(payload, "key-bad")
    assert "400" in refused.value.reason
    assert "attribute[depth]: required" in refused.value.reason


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_wrong_api_key_is_permanent_and_never_quoted(
    upstream: tuple[str, Runtime], mapping: CompiledMapping, fmt: str
) -> None:
    payload = mapping.create_payload(report(), context("k"))
    async with started(upstream_connector(upstream[0], fmt, api_key="wrong-key")) as connector:
        with pytest.raises(PermanentError, match="403") as refused:
            await connector.create(payload, "key-k")
    assert "wrong-key" not in refused.value.reason


async def test_an_unknown_service_is_not_found(
    connector: UpstreamConnector, mapping: CompiledMapping
) -> None:
    payload = mapping.create_payload(report("NOPE"), context("n"))
    with pytest.raises(NotFoundError, match="no service 'NOPE'"):
        await connector.create(payload, "key-n")


@pytest.fixture
async def proxy(upstream: tuple[str, Runtime]) -> AsyncIterator[FaultProxy]:
    async with FaultProxy.before(upstream[0]) as proxy:
        yield proxy


@pytest.mark.parametrize("fmt", FORMATS)
async def test_an_upstream_that_is_down_is_transient(
    proxy: FaultProxy, upstream: tuple[str, Runtime], mapping: CompiledMapping, fmt: str
) -> None:
    payload = mapping.create_payload(report(), context("d"))
    async with started(upstream_connector(proxy.url(upstream[0]), fmt)) as connector:
        await connector.health()
        proxy.cut()
        with pytest.raises(TransientError, match="could not be reached"):
            await connector.create(payload, "key-down")
        with pytest.raises(TransientError, match="could not be reached"):
            await connector.health()
        proxy.accept()
        created = await connector.create(payload, "key-down")
        assert mapping.service_request_id(created)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_stalled_upstream_times_out(
    proxy: FaultProxy, upstream: tuple[str, Runtime], fmt: str
) -> None:
    connector = upstream_connector(proxy.url(upstream[0]), fmt, timeout=0.5)
    async with started(connector):
        await connector.health()
        proxy.stall()
        with pytest.raises(TransientError, match=r"did not answer GET requests within 0\.5 s"):
            await connector.get(["1"])
        with pytest.raises(TransientError, match=r"did not answer GET services within 0\.5 s"):
            await connector.list_services()
        proxy.flow()
        await connector.health()


# --- finding the key in descriptions ----------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
async def test_the_key_found_in_descriptions(
    upstream: tuple[str, Runtime], mapping: CompiledMapping, fmt: str
) -> None:
    """For upstreams that keep nothing else; the line is the connector's own, not shown."""
    reference = {"header": False, "attribute": None, "description": True, "find": "description"}
    async with started(upstream_connector(upstream[0], fmt, reference=reference)) as connector:
        created = await create(connector, mapping, "key-d", report())
        found = await connector.find_by_reference("key-d")
        assert await connector.find_by_reference("key-other") is None
    assert found is not None and mapping.service_request(found) == created
    assert created.description == "A POT report"
    ticket = await upstream_ticket(upstream[1], created.service_request_id)
    assert ticket["summary"] == "A POT report\n\n[gateway-ref: key-d]"
    assert ticket["external_ref"].startswith("fingerprint:")  # no header was sent
