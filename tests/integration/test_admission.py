"""Admission on real SQLite files, with the queue in the store's file (one transaction)
and in a file of its own (three steps): a key is admitted once, whatever the timing."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.admission import Admission, SeparateAdmission, SharedFileAdmission, shared_file
from gateway.queue import EmbeddedQueue, Job, Lease, QueueUnavailable
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


@dataclass
class RecordingHandover:
    """A worker with `slots` free delivery slots, recording what admission tells it; it
    delivers nothing, like a worker that died before the job reached it."""

    slots: int
    lease_seconds: float = 60.0
    handed_over: list[Lease] = field(default_factory=list)
    released: list[Lease] = field(default_factory=list)

    def reserve(self, job: Job) -> Lease | None:
        if self.slots == 0:
            return None
        self.slots -= 1
        expires_at = job.enqueued_at + timedelta(seconds=self.lease_seconds)
        return Lease(job, f"token-{job.id}", expires_at, admitted=True)

    def hand_over(self, lease: Lease) -> None:
        self.handed_over.append(lease)

    def release(self, lease: Lease) -> None:
        self.released.append(lease)
        self.slots += 1


def handing_over(admitting: Admitting, handover: RecordingHandover) -> SharedFileAdmission:
    assert admitting.file is not None
    return SharedFileAdmission(admitting.file, admitting.queue, handover)


def clock_at_now() -> FakeClock:
    """Jobs stamped now: the file leases by the real clock, so their leases run from now."""
    clock = FakeClock()
    clock.now = datetime.now(UTC)
    return clock


@pytest.mark.parametrize("admitting", ["one file"], indirect=True)
async def test_a_job_is_handed_over_under_the_lease_it_was_queued_with(
    admitting: Admitting,
) -> None:
    handover = RecordingHandover(slots=1)
    job = new_job(clock_at_now(), key="k-1")
    accepted = Submission.accepting(job)
    assert await handing_over(admitting, handover).admit(job, accepted, awaited=True) == accepted
    (lease,) = handover.handed_over
    assert lease.job == job and handover.released == []
    assert await admitting.queue.lease(10, 30.0) == []  # hidden while its lease runs
    assert await admitting.queue.complete(job.id, lease.token)
    assert await admitting.queue.depth() == 0


@pytest.mark.parametrize("admitting", ["one file"], indirect=True)
async def test_a_handed_over_job_whose_worker_died_is_redelivered_once_its_lease_expired(
    admitting: Admitting,
) -> None:
    handover = RecordingHandover(slots=1, lease_seconds=30.0)
    job = new_job(FakeClock(), key="k-1")  # stamped months ago: its lease has expired
    await handing_over(admitting, handover).admit(job, Submission.accepting(job), awaited=True)
    (first,) = handover.handed_over
    (again,) = await admitting.queue.lease(10, 30.0)
    assert again.job == job
    assert again.redelivered and not again.admitted  # so the worker looks the key up
    assert not await admitting.queue.complete(job.id, first.token)  # the old lease is void


@pytest.mark.parametrize("admitting", ["one file"], indirect=True)
async def test_a_repeat_or_a_failure_gives_the_slot_back(admitting: Admitting) -> None:
    handover = RecordingHandover(slots=2)
    admission = handing_over(admitting, handover)
    clock = clock_at_now()
    first, repeat = new_job(clock, key="k-1"), new_job(clock, key="k-1")
    await admission.admit(first, Submission.accepting(first), awaited=True)
    assert (
        await admission.admit(repeat, Submission.accepting(repeat), awaited=True)
    ).job_id == first.id
    assert [lease.job for lease in handover.handed_over] == [first]
    assert [lease.job for lease in handover.released] == [repeat]
    assert admitting.file is not None
    with sqlite3.connect(admitting.file.path) as database:
        database.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON queue_jobs "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
    failed = new_job(clock, key="k-2")
    with pytest.raises(QueueUnavailable):
        await admission.admit(failed, Submission.accepting(failed), awaited=True)
    assert [lease.job for lease in handover.released] == [repeat, failed]
    assert handover.slots == 1


@pytest.mark.parametrize("admitting", ["one file"], indirect=True)
@pytest.mark.parametrize(("slots", "awaited"), [(0, True), (1, False)])
async def test_without_a_free_slot_or_a_waiting_client_a_job_is_queued_for_any_worker(
    admitting: Admitting, slots: int, awaited: bool
) -> None:
    handover = RecordingHandover(slots=slots)
    job = new_job(clock_at_now(), key="k-1")
    await handing_over(admitting, handover).admit(job, Submission.accepting(job), awaited=awaited)
    assert handover.handed_over == handover.released == []
    (lease,) = await admitting.queue.lease(10, 30.0)
    assert lease.job == job and not lease.redelivered
