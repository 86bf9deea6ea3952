"""The SQL connector on a legacy schema it did not design, on SQLite, PostgreSQL and
MariaDB: the back office's own tables (tests/data/legacy/) and the same schema made by
`create_schema` from mappings/examples/legacy-tickets.yaml. Numeric status codes, a
category code table joined by number, contact details in a table of their own, a
history table, and ids from a named sequence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import BackendQuery, NotFoundError, PermanentError
from connectors.sql import SqlConnector
from gateway.mapping import CompiledMapping, MappingContext
from gateway.open311.models import (
    Location,
    NewRequestUpdate,
    NewServiceRequest,
    RequestQuery,
    RequestStatus,
    UpdateStatus,
)

from legacy import (
    DIALECTS,
    FIRST_SEQUENCED_ID,
    count,
    database,
    legacy_database,
    legacy_mapping,
    sql,
    started,
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
POTHOLE = {"cat_cd": 110, "cat_abbr": "RD-POT", "cat_name": "Pothole", "dept_nm": "Highways"}


@dataclass
class Legacy:
    connector: SqlConnector
    url: str
    dialect: str
    made_by: str
    """"ddl": the back office's own tables; "create_schema": the connector's."""


@pytest.fixture(scope="module")
def mapping() -> CompiledMapping:
    return legacy_mapping()


@pytest.fixture(
    params=[(dialect, made_by) for made_by in ("ddl", "create_schema") for dialect in DIALECTS],
    ids=lambda param: "-".join(param),
)
async def legacy(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Legacy]:
    dialect, made_by = request.param
    if made_by == "ddl":
        async with legacy_database(dialect, tmp_path) as url, started(url) as connector:
            yield Legacy(connector, url, dialect, made_by)
    else:
        async with (
            database(dialect, tmp_path) as url,
            started(url, create_schema=True) as connector,
        ):
            yield Legacy(connector, url, dialect, made_by)


def report(service_code: str = "POT", **fields: Any) -> NewServiceRequest:
    values: dict[str, Any] = {
        "service_code": service_code,
        "location": Location(lat=51.5, long=-0.125, address_string="1 High Street"),
        "attributes": {"depth": "12", "position": "junction"} if service_code == "POT" else {},
        "description": "Deep hole by the bus stop",
        "email": "resident@example.org",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "020 7946 0000",
        **fields,
    }
    return NewServiceRequest(**values)


def payload(mapping: CompiledMapping, key: str, now: datetime = T0, **fields: Any) -> dict:
    context = MappingContext(jurisdiction_id="legacy", idempotency_key=key, now=now)
    return mapping.create_payload(report(**fields), context)


async def test_create_writes_the_ticket_its_contact_and_first_change(
    legacy: Legacy, mapping: CompiledMapping
) -> None:
    stored = await legacy.connector.create(payload(mapping, "key-1"), "key-1")
    assert (stored["cat_cd"], stored["stat_cd"], stored["prio_cd"]) == (110, 10, 1)
    assert stored["ext_ref"] == "key-1" and stored["opened_dt"] == T0
    assert stored["category"] == POTHOLE
    contact = stored["contact"]
    assert contact["tkt_id"] == stored["tkt_id"]
    assert (contact["first_nm"], contact["last_nm"]) == ("Ada", "Lovelace")
    assert (contact["email_addr"], contact["phone"]) == ("resident@example.org", "020 7946 0000")
    if legacy.made_by == "ddl" and legacy.dialect != "sqlite":
        assert stored["tkt_id"] >= FIRST_SEQUENCED_ID  # from the back office's sequence
    [change] = await legacy.connector.updates(T0, T0 + timedelta(seconds=1))
    assert (change["tkt_id"], change["stat_cd"]) == (stored["tkt_id"], 10)
    assert (change["changed_by"], change["changed_dt"]) == ("OPEN311", T0)
    assert change["ticket"] == stored
    request = mapping.service_request(stored)
    assert (request.service_code, request.status) == ("POT", RequestStatus.OPEN)
    assert (request.agency_responsible, request.lat, request.long) == ("Highways", 51.5, -0.125)
    assert await legacy.connector.find_by_reference("key-1") == stored


async def test_a_ticket_without_contact_details_has_no_contact_row(
    legacy: Legacy, mapping: CompiledMapping
) -> None:
    anonymous = payload(mapping, "key-1", email=None, first_name=None, last_name=None, phone=None)
    assert "contact" not in anonymous
    stored = await legacy.connector.create(anonymous, "key-1")
    assert stored["contact"] is None
    assert await count(legacy.url, "tkt_contact") == 0


async def test_the_first_contact_row_is_the_one_read(
    legacy: Legacy, mapping: CompiledMapping
) -> None:
    stored = await legacy.connector.create(payload(mapping, "key-1"), "key-1")
    await sql(
        legacy.url,
        "INSERT INTO tkt_contact (tkt_id, first_nm) VALUES (:ticket, 'Second')",
        ticket=stored["tkt_id"],
    )
    [again] = await legacy.connector.get([str(stored["tkt_id"])])
    assert again == stored


async def test_a_refused_contact_row_leaves_no_ticket(
    legacy: Legacy, mapping: CompiledMapping
) -> None:
    """The back office checks e-mail addresses; a refused contact row takes its ticket
    and first change with it, and fails only its own create."""
    if legacy.made_by != "ddl":
        pytest.skip("only the back office's own tables check e-mail addresses")
    results = await asyncio.gather(
        legacy.connector.create(payload(mapping, "good-1"), "good-1"),
        legacy.connector.create(payload(mapping, "bad", email="not-an-address"), "bad"),
        legacy.connector.create(payload(mapping, "good-2"), "good-2"),
        return_exceptions=True,
    )
    assert isinstance(results[1], PermanentError), results[1]
    assert "not-an-address" not in results[1].reason
    assert [row["ext_ref"] for row in (results[0], results[2])] == ["good-1", "good-2"]
    assert await legacy.connector.find_by_reference("bad") is None
    for table in ("tkt_main", "tkt_contact", "tkt_history"):
        assert await count(legacy.url, table) == 2


async def test_an_unknown_category_is_refused(legacy: Legacy, mapping: CompiledMapping) -> None:
    unknown = {**payload(mapping, "key-1"), "category": {"cat_abbr": "RD-NONE"}}
    with pytest.raises(PermanentError, match="no row of 'tkt_category' with cat_abbr 'RD-NONE'"):
        await legacy.connector.create(unknown, "key-1")
    with pytest.raises(PermanentError, match="by one column"):
        await legacy.connector.create({**unknown, "category": {}}, "key-1")
    with pytest.raises(PermanentError, match="either 'category' or 'cat_cd'"):
        await legacy.connector.create({**payload(mapping, "key-1"), "cat_cd": 110}, "key-1")
    for table in ("tkt_main", "tkt_contact", "tkt_history"):
        assert await count(legacy.url, table) == 0


async def test_a_category_given_by_number_needs_no_lookup(
    legacy: Legacy, mapping: CompiledMapping
) -> None:
    by_number = payload(mapping, "key-1")
    del by_number["category"]
    stored = await legacy.connector.create({**by_number, "cat_cd": "220"}, "key-1")
    assert stored["category"]["cat_abbr"] == "CL-TIP"


async def test_idempotent_create_under_concurrency(
    legacy: Legacy, mapping: CompiledMapping
) -> None:
    """Two instances deliver the same job at once, several times over: one ticket."""
    async with started(legacy.url) as other:
        creates = [
            connector.create(payload(mapping, "key-1"), "key-1")
            for _ in range(4)
            for connector in (legacy.connector, other)
        ]
        stored = await asyncio.gather(*creates)
    assert len({row["tkt_id"] for row in stored}) == 1
    assert all(row == stored[0] for row in stored)
    for table in ("tkt_main", "tkt_contact", "tkt_history"):
        assert await count(legacy.url, table) == 1


async def seed(legacy: Legacy, mapping: CompiledMapping) -> list[str]:
    """Five tickets an hour apart, the newest last; their Open311 ids."""
    rows = [("POT", 10), ("GRAF", 80), ("POT", 30), ("TIP", 90), ("GRAF", 20)]
    ids = []
    for hours, (code, status) in enumerate(rows):
        key = f"k{hours}"
        ticket = {**payload(mapping, key, T0 + timedelta(hours=hours), service_code=code)}
        ticket["stat_cd"] = status
        stored = await legacy.connector.create(ticket, key)
        ids.append(mapping.service_request_id(stored))
    return ids


def open311_ids(mapping: CompiledMapping, records: list[dict]) -> list[str]:
    return [mapping.service_request_id(record) for record in records]


async def test_get_and_search_with_every_filter(legacy: Legacy, mapping: CompiledMapping) -> None:
    ids = await seed(legacy, mapping)
    connector = legacy.connector

    async def search(**query: Any) -> list[str]:
        found = await connector.search(mapping.backend_query(RequestQuery(**query)))
        return open311_ids(mapping, found)

    assert await search() == ids[::-1]
    assert await search(limit=2) == [ids[4], ids[3]]
    assert await search(service_request_ids=(ids[1], ids[3], "nope")) == [ids[3], ids[1]]
    assert await search(service_codes=("GRAF",)) == [ids[4], ids[1]]
    assert await search(service_codes=("POT", "TIP")) == [ids[3], ids[2], ids[0]]
    assert await search(statuses=(RequestStatus.OPEN,)) == [ids[4], ids[2], ids[0]]
    assert await search(statuses=(RequestStatus.CLOSED,)) == [ids[3], ids[1]]
    closed_graffiti = await search(service_codes=("GRAF",), statuses=(RequestStatus.CLOSED,))
    assert closed_graffiti == [ids[1]]
    assert await search(start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=3)) == [
        ids[2],
        ids[1],
    ]
    assert await search(start=T0 + timedelta(hours=3)) == [ids[4], ids[3]]
    by_department = BackendQuery(any_of={"category.dept_nm": ("Cleansing",)})
    assert open311_ids(mapping, await connector.search(by_department)) == [ids[4], ids[3], ids[1]]
    with pytest.raises(PermanentError, match="table 'tkt_category' has no column 'colour'"):
        await connector.search(BackendQuery(any_of={"category.colour": ("red",)}))
    found = await connector.get([ids[2], ids[0], "99999999", "x"])
    assert sorted(open311_ids(mapping, found)) == sorted([ids[0], ids[2]])
    assert [record["category"] for record in found] == [POTHOLE, POTHOLE]


async def test_updates_in_a_window_with_their_ticket(
    legacy: Legacy, mapping: CompiledMapping
) -> None:
    ids = await seed(legacy, mapping)
    changes = await legacy.connector.updates(T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    assert [(str(c["tkt_id"]), c["changed_dt"]) for c in changes] == [
        (ids[1], T0 + timedelta(hours=1)),
        (ids[2], T0 + timedelta(hours=2)),
    ]
    assert changes[0]["ticket"]["category"]["cat_abbr"] == "CL-GRAF"
    updates = [mapping.request_update(change) for change in changes]
    assert [update.update_id for update in updates] == [str(c["hist_id"]) for c in changes]
    assert all(update.status == UpdateStatus.OPEN for update in updates)  # their first rows


def citizen(ticket_id: str, status: UpdateStatus, text: str) -> NewRequestUpdate:
    return NewRequestUpdate(
        service_request_id=ticket_id,
        update_id="fms-1",
        status=status,
        updated_datetime=T0,
        description=text,
    )


async def test_post_update_moves_the_status_code(legacy: Legacy, mapping: CompiledMapping) -> None:
    stored = await legacy.connector.create(payload(mapping, "key-1"), "key-1")
    ticket_id = mapping.service_request_id(stored)
    later = T0 + timedelta(hours=2)
    context = MappingContext(jurisdiction_id="legacy", idempotency_key="u1", now=later)
    fixed = mapping.update_payload(citizen(ticket_id, UpdateStatus.FIXED, "Filled"), context)
    change = await legacy.connector.post_update(fixed)
    assert (change["stat_cd"], change["note_txt"], change["changed_by"]) == (
        80,
        "Filled",
        "CITIZEN",
    )
    assert change["ticket"]["stat_cd"] == 80 and change["ticket"]["upd_dt"] == later
    assert change["ticket"]["category"] == POTHOLE
    assert mapping.request_update(change).status == UpdateStatus.FIXED
    [closed] = await legacy.connector.get([ticket_id])
    assert mapping.service_request(closed).status == RequestStatus.CLOSED

    note = mapping.update_payload(citizen(ticket_id, UpdateStatus.OPEN, "Thanks"), context)
    comment = await legacy.connector.post_update(note)
    assert comment["stat_cd"] is None and comment["ticket"]["stat_cd"] == 80
    changes = await legacy.connector.updates(later, later + timedelta(seconds=1))
    assert [c["hist_id"] for c in changes] == [change["hist_id"], comment["hist_id"]]


async def test_post_update_moves_a_ticket_to_another_category(
    legacy: Legacy, mapping: CompiledMapping
) -> None:
    stored = await legacy.connector.create(payload(mapping, "key-1"), "key-1")
    moved = await legacy.connector.post_update(
        {
            "tkt_id": stored["tkt_id"],
            "note_txt": "Graffiti, not a pothole",
            "changed_by": "STAFF",
            "ticket": {"category": {"cat_abbr": "CL-GRAF"}},
        }
    )
    assert moved["ticket"]["cat_cd"] == 210
    assert mapping.service_request(moved["ticket"]).service_code == "GRAF"
    with pytest.raises(PermanentError, match="no row of 'tkt_category'"):
        await legacy.connector.post_update(
            {
                "tkt_id": stored["tkt_id"],
                "changed_by": "STAFF",
                "ticket": {"category": {"cat_abbr": "?"}},
            }
        )
    with pytest.raises(NotFoundError, match="no ticket"):
        await legacy.connector.post_update(
            {"tkt_id": 99999999, "changed_by": "STAFF", "ticket": {"stat_cd": 80}}
        )
    assert await count(legacy.url, "tkt_history") == 2


async def test_create_schema_leaves_an_existing_schema_alone(tmp_path: Path) -> None:
    """Started with create_schema on the back office's tables: nothing created, nothing
    written (its category table keeps its own rows)."""
    async with legacy_database("sqlite", tmp_path) as url, started(url, create_schema=True):
        assert await count(url, "tkt_category") == 5


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_create_schema_makes_the_sequence_and_the_codes(
    dialect: str, tmp_path: Path, mapping: CompiledMapping
) -> None:
    async with database(dialect, tmp_path) as url:
        async with started(url, create_schema=True) as connector:
            stored = await connector.create(payload(mapping, "key-1"), "key-1")
        assert await count(url, "tkt_category") == 4
        if dialect == "postgresql":
            assert await sql(url, "SELECT last_value FROM tkt_main_seq") == [(stored["tkt_id"],)]
        if dialect == "mariadb":
            [(following,)] = await sql(url, "SELECT NEXT VALUE FOR tkt_main_seq")
            assert following > stored["tkt_id"]
        async with started(url, create_schema=True) as again:
            assert await again.find_by_reference("key-1") == stored
        assert await count(url, "tkt_category") == 4
