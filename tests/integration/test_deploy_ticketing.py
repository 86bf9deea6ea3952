"""The ticketing databases of deploy/compose.yaml, on real PostgreSQL: each schema that
deploy/postgres/ticketing/ creates (as the back office would, for a connector that does
not create tables) carries every operation of the mapping deploy/config names for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from connectors.sql import SqlConnector
from gateway.mapping import CompiledMapping, MappingContext, load_mapping
from gateway.open311.models import (
    Location,
    NewRequestUpdate,
    NewServiceRequest,
    RequestQuery,
    RequestStatus,
    UpdateStatus,
)
from mappings import mapping_path

from services import postgres_database

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CASES = {
    "example-city": (mapping_path("embedded.yaml"), "POT", {"depth": "12", "position": "junction"}),
    "riverside": (DEPLOY / "config" / "mappings" / "riverside.yaml", "HWY-HOLE", {"depth": "8"}),
}


@pytest.fixture(params=sorted(CASES))
async def ticketing(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[CompiledMapping, SqlConnector, str, dict[str, str]]]:
    mapping_file, service_code, attributes = CASES[request.param]
    mapping = load_mapping(mapping_file)
    schema = (DEPLOY / "postgres" / "ticketing" / f"{request.param}.sql").read_text("utf-8")
    async with postgres_database() as url:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(schema)
        finally:
            await connection.close()
        connector = SqlConnector({"url": url}, mapping.backend, timeout=5)
        await connector.start()
        try:
            yield mapping, connector, service_code, attributes
        finally:
            await connector.close()


async def test_schema_carries_the_mapping(
    ticketing: tuple[CompiledMapping, SqlConnector, str, dict[str, str]],
) -> None:
    mapping, connector, service_code, attributes = ticketing
    if mapping.backend_catalogue is not None:
        catalogue = mapping.backend_catalogue.build(await connector.list_services())
        assert service_code in catalogue.definitions
    report = NewServiceRequest(
        service_code=service_code,
        location=Location(lat=51.5, long=-0.12, address_string="1 High Street"),
        attributes=attributes,
        description="Deep hole by the bus stop",
        email="resident@example.org",
    )
    payload = mapping.create_payload(report, context("key-1", T0))
    record = await connector.create(payload, "key-1")
    created = mapping.service_request(record)
    assert (created.service_code, created.status) == (service_code, RequestStatus.OPEN)
    assert created.requested_datetime == T0
    assert await connector.find_by_reference("key-1") == record
    query = mapping.backend_query(RequestQuery(statuses=(RequestStatus.OPEN,)))
    assert [mapping.service_request(found) for found in await connector.search(query)] == [created]

    fixed = NewRequestUpdate(
        service_request_id=created.service_request_id,
        update_id="fms-1",
        status=UpdateStatus.FIXED,
        updated_datetime=T0,
        description="Filled this morning",
    )
    later = T0 + timedelta(minutes=5)
    await connector.post_update(mapping.update_payload(fixed, context("key-2", later)))
    changes = await connector.updates(T0, later + timedelta(seconds=1))
    statuses = [mapping.request_update(change).status for change in changes]
    assert statuses == [UpdateStatus.OPEN, UpdateStatus.FIXED]
    [closed] = await connector.get([created.service_request_id])
    assert mapping.service_request(closed).status == RequestStatus.CLOSED


def context(key: str, now: datetime) -> MappingContext:
    return MappingContext(jurisdiction_id="deploy", idempotency_key=key, now=now)


def test_every_schema_is_tested() -> None:
    schemas: set[Any] = {path.stem for path in (DEPLOY / "postgres" / "ticketing").glob("*.sql")}
    assert schemas == set(CASES)
