"""The embedded queue on a real SQLite file: leases, settling, dead letters, group commit."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gateway.queue import EmbeddedQueue, JobKind, QueueUnavailable

from queuejobs import T0, FakeClock, new_job

LEASE = 30.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def queue(tmp_path: Path, clock: FakeClock) -> AsyncIterator[EmbeddedQueue]:
    queue = EmbeddedQueue(tmp_path / "data" / "queue.db", clock=clock)
    await queue.start()
    yield queue
    await queue.close()


async def test_a_leased_job_comes_back_as_it_went_in(queue: EmbeddedQueue, clock) -> None:
    job = new_job(clock, payload=b"\x00raw \xff bytes", kind=JobKind.POST_UPDATE)
    await queue.enqueue(job)
    (lease,) = await queue.lease(10, LEASE)
    assert lease.job == job
    assert lease.job.payload == job.payload
    assert lease.expires_at == T0 + timedelta(seconds=LEASE)


async def test_reply_to_is_kept_until_the_job_is_dead(queue: EmbeddedQueue, clock) -> None:
    await queue.enqueue(new_job(clock, reply_to="gateway-7f3a.outcomes"))
    (lease,) = await queue.lease(10, LEASE)
    assert lease.job.reply_to == "gateway-7f3a.outcomes"
    assert await queue.retry(lease.job.id, lease.token, 0, "timeout")
    (retried,) = await queue.lease(10, LEASE)
    assert retried.job.reply_to == "gateway-7f3a.outcomes"
    assert await queue.dead_letter(retried.job.id, retried.token, "refused")
    assert await queue.replay(retried.job.id)
    (replayed,) = await queue.lease(10, LEASE)
    assert replayed.job.reply_to is None  # whoever waited for it is long gone


async def test_only_a_lease_that_ended_unsettled_makes_a_redelivery(
    queue: EmbeddedQueue, clock
) -> None:
    await queue.enqueue(new_job(clock))
    (first,) = await queue.lease(10, LEASE)
    assert not first.redelivered
    clock.advance(LEASE)
    (again,) = await queue.lease(10, LEASE)
    assert again.redelivered
    assert await queue.retry(again.job.id, again.token, 0, "timeout")
    (retried,) = await queue.lease(10, LEASE)
    assert not retried.redelivered and retried.job.attempt == 1


async def test_a_file_from_before_reply_to_gains_the_column(tmp_path: Path, clock) -> None:
    path = tmp_path / "queue.db"
    older = EmbeddedQueue(path, clock=clock)
    await older.start()
    await older.enqueue(new_job(clock, "queued before the upgrade"))
    await older.close()
    with sqlite3.connect(path) as connection:
        connection.execute("ALTER TABLE queue_jobs DROP COLUMN reply_to")
    upgraded = EmbeddedQueue(path, clock=clock)
    await upgraded.start()
    try:
        await upgraded.enqueue(new_job(clock, "after", reply_to="here"))
        leases = await upgraded.lease(10, LEASE)
        assert [(x.job.idempotency_key, x.job.reply_to) for x in leases] == [
            ("queued before the upgrade", None),
            ("after", "here"),
        ]
    finally:
        await upgraded.close()


async def test_a_leased_job_is_hidden_from_other_leases(queue: EmbeddedQueue, clock) -> None:
    for key in ("a", "b", "c"):
        await queue.enqueue(new_job(clock, key))
    first = await queue.lease(2, LEASE)
    second = await queue.lease(2, LEASE)
    assert [lease.job.idempotency_key for lease in first] == ["a", "b"]
    assert [lease.job.idempotency_key for lease in second] == ["c"]
    assert await queue.lease(2, LEASE) == []
    assert await queue.depth() == 3


async def test_oldest_first_and_enqueue_order_breaks_ties(queue: EmbeddedQueue, clock) -> None:
    later = new_job(clock, "later", enqueued_at=T0, not_before=T0 + timedelta(seconds=1))
    await queue.enqueue(later)
    await asyncio.gather(*(queue.enqueue(new_job(clock, key)) for key in "xyz"))
    clock.advance(5)
    leases = await queue.lease(10, LEASE)
    assert [lease.job.idempotency_key for lease in leases] == ["x", "y", "z", "later"]


async def test_not_before_holds_a_job_back(queue: EmbeddedQueue, clock) -> None:
    await queue.enqueue(new_job(clock, not_before=T0 + timedelta(seconds=60)))
    assert await queue.lease(10, LEASE) == []
    clock.advance(59)
    assert await queue.lease(10, LEASE) == []
    clock.advance(1)
    assert len(await queue.lease(10, LEASE)) == 1


async def test_an_expired_lease_is_handed_out_again(queue: EmbeddedQueue, clock) -> None:
    await queue.enqueue(new_job(clock))
    (crashed,) = await queue.lease(10, LEASE)
    clock.advance(LEASE - 1)
    assert await queue.lease(10, LEASE) == []
    clock.advance(1)
    (again,) = await queue.lease(10, LEASE)
    assert again.job == crashed.job
    assert again.token != crashed.token


async def test_a_stale_lease_settles_nothing(queue: EmbeddedQueue, clock) -> None:
    await queue.enqueue(new_job(clock))
    (stale,) = await queue.lease(10, LEASE)
    clock.advance(LEASE)
    (current,) = await queue.lease(10, LEASE)
    job_id = stale.job.id
    assert not await queue.complete(job_id, stale.token)
    assert not await queue.retry(job_id, stale.token, 5, "timeout")
    assert not await queue.dead_letter(job_id, stale.token, "refused")
    assert await queue.depth() == 1 and await queue.dead_letters(10) == []
    assert await queue.complete(job_id, current.token)


async def test_completions_in_one_batch_apply_to_the_current_lease_once(
    queue: EmbeddedQueue, clock
) -> None:
    await queue.enqueue(new_job(clock))
    (stale,) = await queue.lease(10, LEASE)
    clock.advance(LEASE)
    (current,) = await queue.lease(10, LEASE)
    job_id = current.job.id
    done = await asyncio.gather(
        queue.complete(job_id, stale.token),
        queue.complete(job_id, current.token),
        queue.complete(job_id, current.token),
    )
    assert done == [False, True, False]
    assert await queue.depth() == 0


async def test_an_expired_lease_not_yet_taken_still_settles(queue: EmbeddedQueue, clock) -> None:
    await queue.enqueue(new_job(clock))
    (slow,) = await queue.lease(10, LEASE)
    clock.advance(LEASE * 2)
    assert await queue.complete(slow.job.id, slow.token)
    assert await queue.depth() == 0


async def test_complete_removes_the_job_once(queue: EmbeddedQueue, clock) -> None:
    await queue.enqueue(new_job(clock))
    (lease,) = await queue.lease(10, LEASE)
    assert await queue.complete(lease.job.id, lease.token)
    assert not await queue.complete(lease.job.id, lease.token)
    assert await queue.depth() == 0
    clock.advance(LEASE)
    assert await queue.lease(10, LEASE) == []


async def test_retry_waits_its_delay_and_counts_the_attempt(queue: EmbeddedQueue, clock) -> None:
    await queue.enqueue(new_job(clock))
    (lease,) = await queue.lease(10, LEASE)
    assert await queue.retry(lease.job.id, lease.token, 10, "backend timed out")
    assert not await queue.complete(lease.job.id, lease.token)
    clock.advance(9)
    assert await queue.lease(10, LEASE) == []
    clock.advance(1)
    (retried,) = await queue.lease(10, LEASE)
    assert retried.job.attempt == 1
    assert retried.job.not_before == T0 + timedelta(seconds=10)
    assert retried.job.last_error == "backend timed out"


async def test_dead_letter_replay_and_discard(queue: EmbeddedQueue, clock) -> None:
    for key in ("a", "b"):
        await queue.enqueue(new_job(clock, key))
    first, second = await queue.lease(10, LEASE)
    assert await queue.retry(first.job.id, first.token, 0, "timeout")
    (first,) = await queue.lease(10, LEASE)
    assert await queue.dead_letter(first.job.id, first.token, "unknown category")
    clock.advance(1)
    assert await queue.dead_letter(second.job.id, second.token, "missing address")
    assert await queue.depth() == 0

    letters = await queue.dead_letters(10)
    assert [letter.job.idempotency_key for letter in letters] == ["b", "a"]  # newest first
    assert [letter.job.idempotency_key for letter in await queue.dead_letters(1, 1)] == ["a"]
    letter = await queue.dead_letter_of(first.job.id)
    assert letter is not None
    assert (letter.reason, letter.dead_at, letter.job.attempt) == ("unknown category", T0, 1)
    assert letter.job.payload == first.job.payload
    assert await queue.dead_letter_of("no-such-job") is None

    clock.advance(1)
    assert await queue.replay(first.job.id)
    assert not await queue.replay(first.job.id)
    (replayed,) = await queue.lease(10, LEASE)
    assert replayed.job.id == first.job.id
    assert (replayed.job.attempt, replayed.job.not_before) == (0, T0 + timedelta(seconds=2))
    assert replayed.job.enqueued_at == first.job.enqueued_at

    assert await queue.discard(second.job.id)
    assert not await queue.discard(second.job.id)
    assert await queue.dead_letters(10) == []


async def test_concurrent_enqueues_share_commits(tmp_path: Path, clock) -> None:
    queue = EmbeddedQueue(tmp_path / "queue.db", clock=clock, max_batch=8)
    await queue.start()
    try:
        before = queue.commits
        await asyncio.gather(*(queue.enqueue(new_job(clock, f"k{i}")) for i in range(20)))
        assert queue.commits - before == 3  # 8 + 8 + 4 jobs
        assert await queue.depth() == 20
    finally:
        await queue.close()


async def test_settling_shares_commits_too(queue: EmbeddedQueue, clock) -> None:
    await asyncio.gather(*(queue.enqueue(new_job(clock, f"k{i}")) for i in range(10)))
    leases = await queue.lease(10, LEASE)
    before = queue.commits
    done = await asyncio.gather(*(queue.complete(x.job.id, x.token) for x in leases))
    assert all(done) and queue.commits - before == 1


async def test_a_failed_batch_fails_every_caller_and_writes_nothing(tmp_path: Path, clock) -> None:
    """Another process holds the write lock past the batch's wait: every enqueue gets 503."""
    path = tmp_path / "queue.db"
    queue = EmbeddedQueue(path, clock=clock, timeout=1.0)
    await queue.start()
    try:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        outcomes = await asyncio.gather(
            *(queue.enqueue(new_job(clock, f"k{i}")) for i in range(5)), return_exceptions=True
        )
        assert all(isinstance(outcome, QueueUnavailable) for outcome in outcomes)
        assert all("database is locked" in str(outcome) for outcome in outcomes)
        blocker.execute("COMMIT")
        blocker.close()
        assert await queue.depth() == 0
        await queue.enqueue(new_job(clock, "after"))
        assert await queue.depth() == 1
    finally:
        await queue.close()


async def test_close_commits_what_it_accepted_then_refuses(tmp_path: Path, clock) -> None:
    path = tmp_path / "queue.db"
    queue = EmbeddedQueue(path, clock=clock)
    await queue.start()
    pending = [asyncio.create_task(queue.enqueue(new_job(clock, f"k{i}"))) for i in range(5)]
    await asyncio.sleep(0)
    await queue.close()
    await asyncio.gather(*pending)
    with pytest.raises(QueueUnavailable):
        await queue.enqueue(new_job(clock))
    reopened = EmbeddedQueue(path, clock=clock)
    await reopened.start()
    try:
        assert await reopened.depth() == 5
    finally:
        await reopened.close()


async def test_an_unstarted_queue_is_unavailable(tmp_path: Path, clock) -> None:
    with pytest.raises(QueueUnavailable):
        await EmbeddedQueue(tmp_path / "queue.db").enqueue(new_job(clock))


async def test_ping_answers_while_the_queue_can_take_a_job(tmp_path: Path, clock) -> None:
    """It takes the write lock as an enqueue would: held elsewhere, ping fails in time."""
    queue = EmbeddedQueue(tmp_path / "queue.db", clock=clock, timeout=0.5)
    await queue.start()
    try:
        await queue.ping()
        holder = sqlite3.connect(tmp_path / "queue.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(QueueUnavailable, match="locked"):
                await queue.ping()
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        await queue.ping()
    finally:
        await queue.close()


async def test_two_queues_on_one_file_never_lease_a_job_twice(tmp_path: Path, clock) -> None:
    """As a gateway and a separate worker process would: each with its own connection."""
    path = tmp_path / "queue.db"
    queues = [EmbeddedQueue(path, clock=clock) for _ in range(2)]
    for queue in queues:
        await queue.start()
    try:
        await asyncio.gather(*(queues[0].enqueue(new_job(clock, f"k{i}")) for i in range(200)))

        async def drain(queue: EmbeddedQueue) -> list[str]:
            taken = []
            while leases := await queue.lease(7, LEASE):
                taken += [lease.job.id for lease in leases]
            return taken

        first, second = await asyncio.gather(*(drain(queue) for queue in queues))
        assert len(first) + len(second) == len(set(first) | set(second)) == 200
    finally:
        for queue in queues:
            await queue.close()


async def test_wait_for_work_wakes_on_an_enqueue(queue: EmbeddedQueue, clock) -> None:
    assert await queue.lease(1, LEASE) == []
    assert not await queue.wait_for_work(0.01)
    waiting = asyncio.create_task(queue.wait_for_work(30))
    await queue.enqueue(new_job(clock))
    assert await waiting


async def test_work_enqueued_after_a_lease_began_is_not_slept_through(
    tmp_path: Path, clock
) -> None:
    """The race of a worker loop: an enqueue commits between its empty lease and its wait."""
    queue = EmbeddedQueue(tmp_path / "queue.db", clock=clock, max_batch=1)
    await queue.start()
    try:
        empty_lease = asyncio.create_task(queue.lease(1, LEASE))
        await asyncio.sleep(0)  # the lease is first in line, the enqueue commits after it
        await queue.enqueue(new_job(clock))
        assert await empty_lease == []
        assert await queue.wait_for_work(5)
    finally:
        await queue.close()


def test_jobs_refuse_naive_times(clock) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        new_job(clock, not_before=datetime(2026, 5, 1, 12, 0))


def test_a_job_repr_leaves_the_payload_out(clock) -> None:
    assert "hole" not in repr(new_job(clock))
