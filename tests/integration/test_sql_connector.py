"""The SQL connector on the embedded mapping's legacy schema, on SQLite, PostgreSQL and
MariaDB."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.base import (
    BackendQuery,
    Capability,
    NotFoundError,
    PermanentError,
    Range,
    TransientError,
)
from connectors.registry import connector_class
from connectors.sql import SqlConnector
from gateway.mapping import CompiledMapping, load_mapping
from gateway.open311.models import RequestQuery, RequestStatus
from mappings import mapping_path

from services import mariadb_database, postgres_database

SERVERS = {"postgresql": postgres_database, "mariadb": mariadb_database}

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def mapping() -> CompiledMapping:
    return load_mapping(mapping_path("embedded.yaml"))


def database(tmp_path: Path) -> Path:
    return tmp_path / "data" / "tickets.db"


def new_connector(tmp_path: Path, mapping: CompiledMapping, timeout: float = 5.0) -> SqlConnector:
    settings = {"url": f"sqlite:///{database(tmp_path)}", "create_schema": True}
    return SqlConnector(settings, mapping.backend, timeout=timeout)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
async def connector(
    request: pytest.FixtureRequest, tmp_path: Path, mapping: CompiledMapping
) -> AsyncIterator[SqlConnector]:
    if request.param == "sqlite":
        connector = new_connector(tmp_path, mapping)
        await connector.start()
        yield connector
        await connector.close()
        return
    async with SERVERS[request.param]() as url:
        connector = SqlConnector({"url": url, "create_schema": True}, mapping.backend, timeout=5)
        await connector.start()
        yield connector
        await connector.close()


def ticket(
    category: str = "RD-POT", state: str = "NEW", at: datetime = T0, **columns: object
) -> dict[str, object]:
    return {
        "category": category,
        "state": state,
        "summary": "Hole",
        "created_at": at,
        "updated_at": at,
        "history": {"state": state, "note": "Reported", "source": "open311"},
        **columns,
    }


async def test_registered_under_its_kind() -> None:
    assert connector_class("sql") is SqlConnector
    assert SqlConnector.capabilities == {
        Capability.CREATE,
        Capability.FIND_BY_REFERENCE,
        Capability.GET,
        Capability.SEARCH,
        Capability.UPDATES,
        Capability.POST_UPDATE,
    }


async def test_create_stores_the_ticket_and_its_first_change(connector: SqlConnector) -> None:
    payload = ticket(details={"kinds": ["a", "b"]}, latitude="51.5")
    stored = await connector.create(payload, "key-1")
    assert stored["ticket_no"] == 1
    assert stored["external_ref"] == "key-1"
    assert stored["created_at"] == T0 and stored["created_at"].tzinfo is not None
    assert json.loads(stored["details"]) == {"kinds": ["a", "b"]}
    assert stored["latitude"] == 51.5
    [change] = await connector.updates(T0, T0 + timedelta(seconds=1))
    assert change["ticket_no"] == 1 and change["changed_at"] == T0
    assert (change["state"], change["note"]) == ("NEW", "Reported")
    assert change["ticket"]["category"] == "RD-POT"


async def test_sqlite_runs_in_wal_mode(tmp_path: Path, mapping: CompiledMapping) -> None:
    connector = new_connector(tmp_path, mapping)
    await connector.start()
    try:
        await connector.create(ticket(), "key-1")
        with sqlite3.connect(database(tmp_path)) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        await connector.close()


async def test_create_is_idempotent(connector: SqlConnector) -> None:
    first = await connector.create(ticket(), "key-1")
    again = await connector.create(ticket(summary="Different"), "key-1")
    assert again == first
    concurrent = await asyncio.gather(*(connector.create(ticket(), "key-2") for _ in range(5)))
    assert len({row["ticket_no"] for row in concurrent}) == 1
    assert len(await connector.search(BackendQuery())) == 2
    assert len(await connector.updates(T0, T0 + timedelta(days=1))) == 2


async def test_retries_and_new_tickets_in_one_batch(connector: SqlConnector) -> None:
    first = await asyncio.gather(*(connector.create(ticket(), f"key-{i}") for i in range(4)))
    mixed = await asyncio.gather(*(connector.create(ticket(), f"key-{i}") for i in range(2, 8)))
    assert mixed[:2] == first[2:]
    new_ids = {row["ticket_no"] for row in mixed[2:]}  # PostgreSQL may skip ids: only distinct
    assert len(new_ids) == 4 and not new_ids & {row["ticket_no"] for row in first}
    assert len(await connector.updates(T0, T0 + timedelta(days=1))) == 8


async def test_concurrent_creates_share_transactions(connector: SqlConnector) -> None:
    rows = await asyncio.gather(*(connector.create(ticket(), f"key-{i}") for i in range(40)))
    assert sorted(row["ticket_no"] for row in rows) == list(range(1, 41))
    assert [row["external_ref"] for row in rows] == [f"key-{i}" for i in range(40)]
    changes = await connector.updates(T0, T0 + timedelta(seconds=1))
    assert sorted(change["ticket_no"] for change in changes) == list(range(1, 41))


async def test_a_refused_ticket_fails_alone(connector: SqlConnector) -> None:
    results = await asyncio.gather(
        connector.create(ticket(), "good-1"),
        connector.create(ticket(latitude="north"), "bad"),
        connector.create(ticket(), "good-2"),
        return_exceptions=True,
    )
    assert isinstance(results[1], PermanentError)
    assert "north" not in results[1].reason  # values stay out of messages
    assert [row["external_ref"] for row in (results[0], results[2])] == ["good-1", "good-2"]
    assert await connector.find_by_reference("bad") is None


async def test_unknown_columns_are_refused(connector: SqlConnector) -> None:
    with pytest.raises(PermanentError, match="table 'tickets' has no column colour"):
        await connector.create(ticket(colour="red"), "key-1")
    with pytest.raises(PermanentError, match="table 'ticket_history' has no column mood"):
        await connector.create({**ticket(), "history": {"mood": "x"}}, "key-1")


async def test_find_by_reference(connector: SqlConnector) -> None:
    stored = await connector.create(ticket(), "key-1")
    assert await connector.find_by_reference("key-1") == stored
    assert await connector.find_by_reference("key-2") is None


async def test_get(connector: SqlConnector) -> None:
    first = await connector.create(ticket(), "key-1")
    second = await connector.create(ticket(), "key-2")
    found = await connector.get(["2", "1", "99", "x"])
    assert sorted(found, key=lambda row: row["ticket_no"]) == [first, second]
    assert await connector.get(["abc"]) == []


async def seed(connector: SqlConnector) -> None:
    rows = [
        ("RD-POT", "NEW", 0),
        ("ENV-DOG", "DONE", 1),
        ("RD-POT", "ASSIGNED", 2),
        ("ENV-GRAF", "REJECTED", 3),
        ("ENV-DOG", "TRIAGED", 4),
    ]
    for number, (category, state, hours) in enumerate(rows, start=1):
        await connector.create(ticket(category, state, T0 + timedelta(hours=hours)), f"k{number}")


def numbers(rows: list[dict[str, object]]) -> list[object]:
    return [row["ticket_no"] for row in rows]


async def test_search_newest_first_with_a_limit(connector: SqlConnector) -> None:
    await seed(connector)
    assert numbers(await connector.search(BackendQuery(order_by="created_at"))) == [5, 4, 3, 2, 1]
    assert numbers(await connector.search(BackendQuery(limit=2))) == [5, 4]


async def test_search_by_ids_overrides_the_filters(connector: SqlConnector) -> None:
    await seed(connector)
    query = BackendQuery(ids=("2", "4", "nope"), any_of={"category": ("RD-POT",)})
    assert numbers(await connector.search(query)) == [4, 2]


async def test_search_by_field_values_and_range(connector: SqlConnector) -> None:
    await seed(connector)
    by_category = BackendQuery(any_of={"category": ("ENV-DOG", "ENV-GRAF")})
    assert numbers(await connector.search(by_category)) == [5, 4, 2]
    window = Range(T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    assert numbers(await connector.search(BackendQuery(ranges={"created_at": window}))) == [3, 2]
    since = Range(low=T0 + timedelta(hours=3))
    assert numbers(await connector.search(BackendQuery(ranges={"created_at": since}))) == [5, 4]
    nothing = BackendQuery(any_of={"category": ()})
    assert await connector.search(nothing) == []


async def test_searches_of_one_shape_each_bind_their_own_values(connector: SqlConnector) -> None:
    """A search's statement is built once per shape: its values must never stick to it."""
    await seed(connector)
    for categories, expected in [(("RD-POT",), [3, 1]), (("ENV-GRAF",), [4]), ((), [])]:
        assert numbers(await connector.search(BackendQuery(any_of={"category": categories}))) == (
            expected
        )
    for hours, expected in [((0, 2), [2, 1]), ((3, 9), [5, 4])]:
        window = Range(T0 + timedelta(hours=hours[0]), T0 + timedelta(hours=hours[1]))
        query = BackendQuery(ranges={"created_at": window}, limit=1)
        assert numbers(await connector.search(query)) == expected[:1]
    for ids, expected in [(("1", "3"), [3, 1]), (("5",), [5]), (("nope",), [])]:
        assert numbers(await connector.search(BackendQuery(ids=ids))) == expected
        assert sorted(numbers(await connector.get(ids))) == sorted(expected)
    for hours, expected in [((1, 3), [2, 3]), ((3, 9), [4, 5])]:
        since, until = (T0 + timedelta(hours=hour) for hour in hours)
        assert [change["history_id"] for change in await connector.updates(since, until)] == (
            expected
        )


async def test_search_by_status_through_the_mapping(
    connector: SqlConnector, mapping: CompiledMapping
) -> None:
    await seed(connector)
    open_query = mapping.backend_query(RequestQuery(statuses=(RequestStatus.OPEN,)))
    assert numbers(await connector.search(open_query)) == [5, 3, 1]
    closed_dogs = mapping.backend_query(
        RequestQuery(service_codes=("DOG",), statuses=(RequestStatus.CLOSED,))
    )
    assert numbers(await connector.search(closed_dogs)) == [2]
    window = mapping.backend_query(RequestQuery(start=T0, end=T0 + timedelta(hours=1)))
    assert numbers(await connector.search(window)) == [1]


async def test_search_on_an_unknown_column(connector: SqlConnector) -> None:
    with pytest.raises(PermanentError, match="table 'tickets' has no column 'colour'"):
        await connector.search(BackendQuery(any_of={"colour": ("red",)}))


async def test_updates_window_is_half_open_and_oldest_first(connector: SqlConnector) -> None:
    await seed(connector)
    changes = await connector.updates(T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    assert [(c["history_id"], c["ticket_no"], c["state"]) for c in changes] == [
        (2, 2, "DONE"),
        (3, 3, "ASSIGNED"),
    ]
    assert changes[0]["ticket"]["category"] == "ENV-DOG"
    assert changes[0]["ticket"]["ticket_no"] == 2


async def test_post_update_changes_the_ticket_and_records_the_change(
    connector: SqlConnector,
) -> None:
    await connector.create(ticket(), "key-1")
    later = T0 + timedelta(hours=2)
    stored = await connector.post_update(
        {
            "ticket_no": "1",
            "state": "DONE",
            "note": "Fixed",
            "changed_at": later,
            "source": "citizen",
            "ticket": {"state": "DONE", "updated_at": later},
        }
    )
    assert (stored["history_id"], stored["ticket_no"], stored["state"]) == (2, 1, "DONE")
    assert stored["ticket"]["state"] == "DONE" and stored["ticket"]["updated_at"] == later
    [fetched] = await connector.get(["1"])
    assert fetched["state"] == "DONE"
    changes = await connector.updates(later, later + timedelta(seconds=1))
    assert [change["history_id"] for change in changes] == [2]


async def test_post_update_without_ticket_changes(connector: SqlConnector) -> None:
    await connector.create(ticket(), "key-1")
    stored = await connector.post_update({"ticket_no": 1, "note": "A comment"})
    assert stored["state"] is None and stored["note"] == "A comment"
    assert stored["ticket"]["state"] == "NEW"
    assert stored["changed_at"].tzinfo is not None


async def test_post_update_on_an_unknown_ticket(connector: SqlConnector) -> None:
    await connector.create(ticket(), "key-1")
    for ticket_no in ("99", "not-a-number"):
        with pytest.raises(NotFoundError, match="no ticket"):
            await connector.post_update({"ticket_no": ticket_no, "note": "x"})
        with pytest.raises(NotFoundError, match="no ticket"):
            await connector.post_update(
                {"ticket_no": ticket_no, "note": "x", "ticket": {"state": "DONE"}}
            )
    with pytest.raises(NotFoundError):
        await connector.post_update({"note": "no ticket at all"})
    assert len(await connector.updates(T0, T0 + timedelta(days=1))) == 1


async def test_post_update_with_unknown_columns(connector: SqlConnector) -> None:
    await connector.create(ticket(), "key-1")
    with pytest.raises(PermanentError, match="no column mood"):
        await connector.post_update({"ticket_no": 1, "mood": "x"})
    with pytest.raises(PermanentError, match="no column colour"):
        await connector.post_update({"ticket_no": 1, "ticket": {"colour": "x"}})


async def test_a_locked_database_is_a_transient_error(
    tmp_path: Path, mapping: CompiledMapping
) -> None:
    prepared = new_connector(tmp_path, mapping)  # a timeout the busy machine cannot miss
    await prepared.start()
    try:
        await prepared.create(ticket(), "before")
    finally:
        await prepared.close()
    settings = {"url": f"sqlite:///{database(tmp_path)}"}  # the schema is there: no DDL to time
    connector = SqlConnector(settings, mapping.backend, timeout=0.2)
    await connector.start()
    try:
        other = sqlite3.connect(database(tmp_path), isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(TransientError):
                await connector.create(ticket(), "during")
            with pytest.raises(TransientError):
                await connector.post_update({"ticket_no": 1, "note": "x"})
        finally:
            other.execute("ROLLBACK")
            other.close()
    finally:
        await connector.close()
    unlocked = new_connector(tmp_path, mapping)
    await unlocked.start()
    try:
        stored = await unlocked.create(ticket(), "during")
        assert await unlocked.create(ticket(), "during") == stored
        assert len(await unlocked.search(BackendQuery())) == 2
        await unlocked.health()
    finally:
        await unlocked.close()


async def test_health_and_lifecycle(tmp_path: Path, mapping: CompiledMapping) -> None:
    connector = new_connector(tmp_path, mapping)
    with pytest.raises(TransientError, match="not started"):
        await connector.health()
    with pytest.raises(TransientError, match="not started"):
        await connector.create(ticket(), "key-1")
    await connector.start()
    await connector.health()
    stored = await connector.create(ticket(), "key-1")
    await connector.close()
    reopened = new_connector(tmp_path, mapping)
    await reopened.start()
    try:
        assert await reopened.find_by_reference("key-1") == stored
    finally:
        await reopened.close()


async def test_without_create_schema_missing_tables_fail(
    tmp_path: Path, mapping: CompiledMapping
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    connector = SqlConnector({"url": url}, mapping.backend, timeout=2)
    await connector.start()
    try:
        with pytest.raises(TransientError, match="no such table"):
            await connector.get(["1"])
    finally:
        await connector.close()


def test_settings_and_schema_are_checked(mapping: CompiledMapping) -> None:
    with pytest.raises(ValidationError, match="in-memory"):
        SqlConnector({"url": "sqlite:///:memory:"}, mapping.backend, timeout=1)
    with pytest.raises(ValidationError, match="url"):
        SqlConnector({"create_schema": True}, mapping.backend, timeout=1)
    broken = {**mapping.backend, "history": {**mapping.backend["history"], "time": "when"}}
    with pytest.raises(ValidationError, match="time 'when' is not one of the columns"):
        SqlConnector({"url": "sqlite:///x.db"}, broken, timeout=1)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mariadb"])
async def test_connectors_starting_together_create_the_tables_once(
    backend: str, tmp_path: Path, mapping: CompiledMapping
) -> None:
    """A gateway and its workers start at the same moment on one backend database."""

    async def start_together(url: str) -> None:
        connectors = [
            SqlConnector({"url": url, "create_schema": True}, mapping.backend, timeout=5)
            for _ in range(6)
        ]
        try:
            await asyncio.gather(*(connector.start() for connector in connectors))
            await connectors[0].create(ticket(), "k1")
            assert await connectors[5].find_by_reference("k1") is not None
        finally:
            for connector in connectors:
                await connector.close()

    if backend == "sqlite":
        database(tmp_path).parent.mkdir()
        await start_together(f"sqlite:///{database(tmp_path)}")
    else:
        async with SERVERS[backend]() as url:
            await start_together(url)
