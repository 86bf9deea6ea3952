"""Admission on real SQLite files, with the queue in the store's file (one transaction)
and in a file of its own (three steps): a key is admitted once, whatever the timing."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.admission import Admission, SeparateAdmission, SharedFileAdmission, shared_file
from gateway.queue import EmbeddedQueue, QueueUnavailable
from gateway.sqlitefile import SqliteFile
from gateway.store import Store, Submission

from queuejobs import FakeClock, new_job


@dataclass
class Admitting:
    admission: Admission
    store: Store
    queue: EmbeddedQueue
    file: SqliteFile | None


@pytest.fixture(params=["one file", "two files"])
async def admitting(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Admitting]:
    store_url = f"sqlite:///{tmp_path / 'gateway.db'}"
    queue_url = store_url if request.param == "one file" else f"sqlite:///{tmp_path / 'q.db'}"
    file = shared_file(store_url, queue_url)
    assert (file is not None) == (request.param == "one file")
    if file is not None:
        await file.start()
    store = Store(store_url, shared=file)
    queue = EmbeddedQueue(file or tmp_path / "q.db")
    await store.start()
    await queue.start()
    admission = (
        SeparateAdmission(store, queue) if file is None else SharedFileAdmission(file, queue)
    )
    yield Admitting(admission, store, queue, file)
    await queue.close()
    await store.close()
    if file is not None:
        await file.close()


async def test_a_new_job_is_queued_and_its_acceptance_stored(admitting: Admitting) -> None:
    job = new_job(FakeClock(), key="k-1")
    accepted = Submission.accepting(job)
    assert await admitting.admission.admit(job, accepted) == accepted
    assert await admitting.store.by_key(job.jurisdiction_id, "k-1") == accepted
    (lease,) = await admitting.queue.lease(10, 30.0)
    assert lease.job == job


async def test_concurrent_twins_get_one_answer(admitting: Admitting) -> None:
    """In one file a key is queued once, whatever the timing. In two files concurrent
    twins may each queue a job (the worker then finds the first's record by the key)."""
    clock = FakeClock()
    twins = [new_job(clock, key="k-1") for _ in range(20)]
    others = [new_job(clock, key=f"k-{n}") for n in range(2, 6)]
    jobs = [job for pair in zip(twins, others * 5, strict=True) for job in pair]
    admit = admitting.admission.admit
    stored = await asyncio.gather(*(admit(job, Submission.accepting(job)) for job in jobs))
    answers = {s.idempotency_key: s.job_id for s in stored}
    assert all(answers[s.idempotency_key] == s.job_id for s in stored)
    depth = await admitting.queue.depth()
    if admitting.file is not None:
        assert depth == 5
        leased = {lease.job.id for lease in await admitting.queue.lease(10, 30.0)}
        assert leased == set(answers.values())
    again, fresh = new_job(clock, key="k-1"), new_job(clock, key="k-9")
    first, new = await asyncio.gather(
        *(admit(job, Submission.accepting(job)) for job in (again, fresh))
    )
    assert first.job_id == answers["k-1"]
    assert new == Submission.accepting(fresh)
    assert await admitting.queue.depth() == depth + 1


@pytest.mark.parametrize("admitting", ["one file"], indirect=True)
async def test_in_one_file_a_failed_job_leaves_no_acceptance(admitting: Admitting) -> None:
    assert admitting.file is not None
    with sqlite3.connect(admitting.file.path) as database:
        database.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON queue_jobs "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
    job = new_job(FakeClock(), key="k-1")
    with pytest.raises(QueueUnavailable, match="disk I/O error"):
        await admitting.admission.admit(job, Submission.accepting(job))
    assert await admitting.store.by_key(job.jurisdiction_id, "k-1") is None
