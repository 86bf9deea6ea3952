"""The REST connector against the simulated API: records, idempotency keys, searches, and
every failure typed as the gateway's contract wants it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from open311_rest_connector import RestConnector

from connectors.base import (
    BackendQuery,
    Capability,
    NotFoundError,
    PermanentError,
    Range,
    TransientError,
    UnsupportedError,
)

from rest_simulator import TOKEN, RestSimulator

POTHOLE = {"category": "ROAD-HOLE", "summary": "Deep hole"}


@pytest.fixture
async def simulator() -> AsyncIterator[RestSimulator]:
    async with RestSimulator() as started:
        yield started


def connector_for(url: str, timeout: float = 2.0, **schema: Any) -> RestConnector:
    return RestConnector({"url": url, "token": TOKEN}, schema, timeout=timeout)


@pytest.fixture
async def connector(simulator: RestSimulator) -> AsyncIterator[RestConnector]:
    started = connector_for(simulator.url)
    await started.start()
    yield started
    await started.close()


async def test_create_writes_the_key_into_the_ticket_and_it_is_found_by_it(
    connector: RestConnector, simulator: RestSimulator
) -> None:
    seen = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    created = await connector.create({**POTHOLE, "seen_at": seen}, "key-1")
    assert created["reference"] == "key-1"
    assert created["seen_at"] == "2026-05-01T12:00:00+00:00"
    assert simulator.tickets == [created]
    assert await connector.find_by_reference("key-1") == created
    assert await connector.find_by_reference("key-2") is None


async def test_a_create_repeated_with_its_key_returns_the_first_ticket(
    connector: RestConnector, simulator: RestSimulator
) -> None:
    first = await connector.create(POTHOLE, "key-1")
    assert await connector.create(POTHOLE, "key-1") == first
    assert len(simulator.tickets) == 1


async def test_the_key_goes_in_the_field_the_mapping_names(simulator: RestSimulator) -> None:
    connector = connector_for(simulator.url, reference="external_ref")
    await connector.start()
    try:
        created = await connector.create(POTHOLE, "key-1")
        assert created["external_ref"] == "key-1" and "reference" not in created
        assert await connector.find_by_reference("key-1") == created
    finally:
        await connector.close()


async def test_get_leaves_unknown_ids_out(connector: RestConnector) -> None:
    first = await connector.create(POTHOLE, "key-1")
    second = await connector.create(POTHOLE, "key-2")
    found = await connector.get([str(first["id"]), "999", str(second["id"])])
    assert sorted(ticket["id"] for ticket in found) == [first["id"], second["id"]]
    assert await connector.get([]) == []


async def test_search_by_values_and_window_newest_first_within_the_limit(
    connector: RestConnector,
) -> None:
    older = await connector.create(POTHOLE, "key-1")
    await connector.create({"category": "GRAFFITI"}, "key-2")
    newer = await connector.create(POTHOLE, "key-3")
    now = datetime.now(UTC)
    window = Range(now - timedelta(hours=1), now + timedelta(hours=1))
    potholes = BackendQuery(any_of={"category": ("ROAD-HOLE",)}, order_by="id")
    assert await connector.search(potholes) == [newer, older]
    within = BackendQuery(ranges={"created_at": window}, order_by="id", limit=2)
    assert [t["reference"] for t in await connector.search(within)] == ["key-3", "key-2"]
    later = BackendQuery(ranges={"created_at": Range(low=now + timedelta(hours=1))})
    assert await connector.search(later) == []
    assert await connector.search(BackendQuery(ids=(str(older["id"]),))) == [older]


async def test_a_refused_payload_is_permanent_with_the_apis_reason(
    connector: RestConnector,
) -> None:
    with pytest.raises(PermanentError, match=r"^the API answered 422: unknown category$"):
        await connector.create({"category": "NOPE"}, "key-1")


async def test_a_wrong_token_is_permanent(simulator: RestSimulator) -> None:
    connector = RestConnector({"url": simulator.url, "token": "wrong"}, {}, timeout=2.0)
    with pytest.raises(PermanentError, match="401: bad token"):
        await connector.start()
    await connector.close()


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_throttling_and_server_errors_are_transient(
    connector: RestConnector, simulator: RestSimulator, status: int
) -> None:
    simulator.failure = status
    with pytest.raises(TransientError, match=f"^the API answered {status}: injected failure$"):
        await connector.create(POTHOLE, "key-1")
    with pytest.raises(TransientError):
        await connector.search(BackendQuery())
    assert simulator.tickets == []


async def test_404_is_not_found(simulator: RestSimulator) -> None:
    connector = connector_for(simulator.url, resource="nothing")
    await connector.start()
    try:
        with pytest.raises(NotFoundError, match=r"^the API answered 404$"):
            await connector.search(BackendQuery())
    finally:
        await connector.close()


async def test_a_call_that_does_not_answer_in_time_is_transient(
    simulator: RestSimulator,
) -> None:
    connector = connector_for(simulator.url, timeout=0.05)
    await connector.start()
    simulator.stalled = True
    try:
        with pytest.raises(TransientError, match=r"^the API did not answer within 0\.05 s$"):
            await connector.create(POTHOLE, "key-1")
    finally:
        await connector.close()


async def test_an_api_that_cannot_be_reached_fails_the_start_transiently() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    connector = connector_for(f"http://127.0.0.1:{port}/api")
    with pytest.raises(TransientError, match=r"^the API cannot be reached: ClientConnectorError"):
        await connector.start()
    await connector.close()


async def test_a_connector_not_started_fails_transiently(simulator: RestSimulator) -> None:
    with pytest.raises(TransientError, match="not started"):
        await connector_for(simulator.url).search(BackendQuery())


async def test_what_it_does_not_declare_is_unsupported(connector: RestConnector) -> None:
    assert connector.capabilities == {
        Capability.CREATE,
        Capability.FIND_BY_REFERENCE,
        Capability.GET,
        Capability.SEARCH,
    }
    now = datetime.now(UTC)
    with pytest.raises(UnsupportedError):
        await connector.updates(now - timedelta(days=1), now)
    with pytest.raises(UnsupportedError):
        await connector.post_update({})
    with pytest.raises(UnsupportedError):
        await connector.list_services()
