"""The store on SQLite and PostgreSQL: versioned schema, submissions and their outcomes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from connectors.sql.database import open_database
from gateway.outcomes import Outcome
from gateway.queue import Job, JobKind
from gateway.store import Store, StoreUnavailable, Submission, SubmissionState
from gateway.store.migrate import current_revision, head_revision, upgrade
from gateway.store.submissions import LOOKUP_WIDTH
from gateway.store.tables import metadata

from services import postgres_database

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        (tmp_path / "data").mkdir()
        yield f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"
        return
    async with postgres_database() as url:
        yield url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    store = Store(store_url)
    await store.start()
    yield store
    await store.close()


def job(key: str, jurisdiction_id: str = "city", at: datetime = T0) -> Job:
    return Job.create(jurisdiction_id, JobKind.CREATE_REQUEST, key, b"{}", now=at)


def accepted(job: Job, fingerprint: str | None = None) -> Submission:
    return Submission.accepting(job, fingerprint)


def delivered(job: Job, service_request_id: str) -> Outcome:
    return Outcome(job.id, job.jurisdiction_id, service_request_id, None)


def refused(job: Job, reason: str) -> Outcome:
    return Outcome(job.id, job.jurisdiction_id, None, reason)


async def test_start_brings_the_schema_to_the_newest_revision(store_url: str) -> None:
    store = Store(store_url)
    await store.start()
    try:
        assert await store.database.read(current_revision) == head_revision()
        differences = await store.database.read(
            lambda connection: compare_metadata(MigrationContext.configure(connection), metadata)
        )
        assert differences == [], "the tables differ from the migrations: add a revision"
    finally:
        await store.close()


def _index_conditions(connection: Connection) -> dict[str, str]:
    """Each index of `submissions` by name, with the rows it is limited to, lower case
    and without parentheses (each database writes them its own way); "" for all rows."""
    conditions = {}
    for index in inspect(connection).get_indexes("submissions"):
        where = next((v for k, v in index["dialect_options"].items() if k.endswith("_where")), "")
        conditions[index["name"]] = str(where).replace("(", "").replace(")", "").lower()
    return conditions


async def test_only_rows_with_a_fingerprint_or_a_settlement_are_indexed_by_them(
    store: Store,
) -> None:
    """Accepting a request sent with a key then writes neither index."""
    conditions = await store.database.read(_index_conditions)
    assert conditions["ix_submissions_jurisdiction_id_fingerprint_accepted_at"] == (
        "fingerprint is not null"
    )
    assert conditions["ix_submissions_state_settled_at"] == "settled_at is not null"


async def test_tokens_of_the_first_schema_become_submissions(store_url: str) -> None:
    database = open_database(store_url, timeout=5, pool_size=None)
    try:
        await database.write(partial(upgrade, revision="0001"))
        await database.write(
            lambda connection: connection.execute(
                text(
                    "INSERT INTO tokens (token, jurisdiction_id, service_request_id, created_at) "
                    "VALUES ('tok-done', 'city', '42', :at), ('tok-waiting', 'city', NULL, :at)"
                ),
                {"at": T0},
            )
        )
    finally:
        await database.dispose()
    store = Store(store_url)
    await store.start()
    try:
        done = await store.submission("city", "tok-done")
        assert done is not None and done.token == "tok-done"
        assert (done.state, done.service_request_id, done.accepted_at) == (
            SubmissionState.DELIVERED,
            "42",
            T0,
        )
        waiting = await store.submission("city", "tok-waiting")
        assert waiting is not None and waiting.state is SubmissionState.ACCEPTED
    finally:
        await store.close()


async def test_instances_starting_together_migrate_once(store_url: str) -> None:
    stores = [Store(store_url) for _ in range(3)]
    await asyncio.gather(*(store.start() for store in stores))
    try:
        first = job("header:k1")
        await stores[0].accept(accepted(first))
        found = await stores[2].by_key("city", "header:k1")
        assert found is not None and found.job_id == first.id
    finally:
        for store in stores:
            await store.close()


async def test_a_submission_is_found_by_key_and_job_within_its_jurisdiction(
    store: Store,
) -> None:
    first = job("header:k1")
    assert await store.accept(accepted(first)) == accepted(first)
    assert await store.by_key("city", "header:k1") == accepted(first)
    assert await store.by_key("other", "header:k1") is None
    assert await store.by_key("city", "header:k2") is None
    assert await store.submission("city", first.id) == accepted(first)
    assert await store.submission("other", first.id) is None
    assert await store.submission("city", "unknown") is None


async def test_lookups_of_many_keys_at_once_cross_the_statement_width(store: Store) -> None:
    jobs = [job(f"header:k{i}") for i in range(2 * LOOKUP_WIDTH + 3)]
    await asyncio.gather(*(store.accept(accepted(each)) for each in jobs[::2]))
    found = await asyncio.gather(*(store.by_key("city", each.idempotency_key) for each in jobs))
    assert found == [accepted(each) if i % 2 == 0 else None for i, each in enumerate(jobs)]


async def test_a_twin_under_the_same_key_gets_the_first_answer(store: Store) -> None:
    jobs = [job("header:same") for _ in range(8)]
    stored = await asyncio.gather(*(store.accept(accepted(j)) for j in jobs))
    assert len({submission.job_id for submission in stored}) == 1
    later = await store.accept(accepted(job("header:same")))
    assert later.job_id == stored[0].job_id


async def test_the_outcome_is_kept_and_the_token_resolves(store: Store) -> None:
    first = job("header:k1")
    await store.accept(accepted(first))
    await store.settle(first, delivered(first, "42"))
    found = await store.submission("city", first.id)
    assert found is not None
    assert (found.state, found.service_request_id, found.reason) == (
        SubmissionState.DELIVERED,
        "42",
        None,
    )
    assert found.settled_at is not None


async def test_outcomes_settled_together_each_reach_their_own_row(store: Store) -> None:
    """One batch: stored acceptances, one settled twice (its last outcome stays), one
    refused, and one whose acceptance is not recorded yet."""
    kept, twice, dead, early = (job(f"header:k{i}") for i in range(4))
    for stored_job in (kept, twice, dead):
        await store.accept(accepted(stored_job))
    await asyncio.gather(
        store.settle(kept, delivered(kept, "1")),
        store.settle(twice, delivered(twice, "2")),
        store.settle(dead, refused(dead, "no such street")),
        store.settle(twice, delivered(twice, "3")),
        store.settle(early, delivered(early, "4")),
    )
    found = {j.id: await store.submission("city", j.id) for j in (kept, twice, dead, early)}
    assert {
        job_id: (s.state, s.service_request_id, s.reason) for job_id, s in found.items() if s
    } == {
        kept.id: (SubmissionState.DELIVERED, "1", None),
        twice.id: (SubmissionState.DELIVERED, "3", None),
        dead.id: (SubmissionState.DEAD, None, "no such street"),
        early.id: (SubmissionState.DELIVERED, "4", None),
    }
    assert all(s is not None and s.settled_at is not None for s in found.values())


async def test_an_outcome_stored_before_the_acceptance_survives_it(store: Store) -> None:
    """A worker in another process delivered the job before the gateway recorded it."""
    quick = job("fingerprint:abc")
    await store.settle(quick, delivered(quick, "7"))
    stored = await store.accept(accepted(quick, fingerprint="abc"))
    assert (stored.job_id, stored.state, stored.service_request_id) == (
        quick.id,
        SubmissionState.DELIVERED,
        "7",
    )
    assert stored.fingerprint == "abc"
    assert await store.latest_by_fingerprint("city", "abc") == stored


async def test_a_twins_delivery_answers_the_first_submission(store: Store) -> None:
    first, twin = job("header:k1"), job("header:k1")
    await store.accept(accepted(first))
    await store.settle(twin, delivered(twin, "42"))
    found = await store.by_key("city", "header:k1")
    assert found is not None and found.job_id == first.id
    assert (found.state, found.service_request_id) == (SubmissionState.DELIVERED, "42")


async def test_dead_submissions_are_listed_newest_first_and_replay_revives_them(
    store_url: str,
) -> None:
    clock = [T0]
    store = Store(store_url, clock=lambda: clock[0])
    await store.start()
    try:
        first, second = job("header:a"), job("header:b")
        for each in (first, second):
            await store.accept(accepted(each))
        await store.settle(first, refused(first, "unknown category"))
        clock[0] += timedelta(seconds=1)
        await store.settle(second, refused(second, "no address"))
        assert [(s.job_id, s.reason) for s in await store.dead(10)] == [
            (second.id, "no address"),
            (first.id, "unknown category"),
        ]
        assert [s.job_id for s in await store.dead(1, offset=1)] == [first.id]
        await store.settle(first, delivered(first, "9"))
        assert [s.job_id for s in await store.dead(10)] == [second.id]
    finally:
        await store.close()


async def test_the_newest_fingerprint_wins(store: Store) -> None:
    older = job("fingerprint:f", at=T0)
    newer = job("fingerprint:f:1", at=T0 + timedelta(minutes=20))
    for each in (newer, older):
        await store.accept(accepted(each, fingerprint="f"))
    latest = await store.latest_by_fingerprint("city", "f")
    assert latest is not None and latest.job_id == newer.id
    assert await store.latest_by_fingerprint("other", "f") is None


async def test_lookups_by_fingerprint_in_one_batch_each_find_their_own(store: Store) -> None:
    """Concurrent lookups share a batch, and one statement with each one's values."""
    jobs = {fingerprint: job(f"fingerprint:{fingerprint}") for fingerprint in ("f", "g")}
    for fingerprint, each in jobs.items():
        await store.accept(accepted(each, fingerprint=fingerprint))
    found = await asyncio.gather(
        *(store.latest_by_fingerprint("city", fingerprint) for fingerprint in ("g", "f", "h"))
    )
    assert [each.job_id if each else None for each in found] == [jobs["g"].id, jobs["f"].id, None]


async def test_a_closed_store_is_unavailable(store_url: str) -> None:
    store = Store(store_url)
    await store.start()
    await store.close()
    with pytest.raises(StoreUnavailable, match="store is not started"):
        await store.accept(accepted(job("header:k1")))
