"""An upgrade from a release that kept the embedded queue in `queue.db` beside the store:
its jobs and dead letters move into the store's file, once, none lost or doubled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.config import WorkerConfig, WorkerMode
from gateway.embedded import embedded_config
from gateway.queue import EmbeddedQueue, Job
from gateway.queue.leftover import adopt_leftover_queue
from gateway.runtime import Runtime
from gateway.sqlitefile import SqliteFile

from queuejobs import FakeClock, new_job

LEASE = 30.0


async def leave_old_queue(path: Path, clock: FakeClock) -> tuple[list[Job], Job]:
    """A queue file as the earlier release left it: two jobs waiting, one dead letter."""
    old = EmbeddedQueue(path, clock=clock)
    await old.start()
    waiting = [new_job(clock, key=f"key-{n}") for n in range(3)]
    for job in waiting:
        await old.enqueue(job)
    (lease, *_) = await old.lease(1, LEASE)
    assert await old.dead_letter(lease.job.id, lease.token, "unknown category")
    await old.close()
    return [job for job in waiting if job.id != lease.job.id], lease.job


@pytest.fixture
async def store_file(tmp_path: Path) -> AsyncIterator[SqliteFile]:
    file = SqliteFile(tmp_path / "gateway.db", timeout=5.0, max_batch=64, name="gateway")
    await file.start()
    yield file
    await file.close()


async def test_the_jobs_and_dead_letters_move_into_the_store_file(
    store_file: SqliteFile, tmp_path: Path
) -> None:
    clock = FakeClock()
    waiting, dead = await leave_old_queue(tmp_path / "queue.db", clock)
    queue = EmbeddedQueue(store_file)
    await queue.start()
    already = new_job(clock, key="queued-after-upgrade")
    await queue.enqueue(already)
    assert await adopt_leftover_queue(store_file) == 3
    leases = await queue.lease(10, LEASE)
    assert [lease.job for lease in leases] == [already, *waiting]  # as old as each other
    (letter,) = await queue.dead_letters(10)
    assert (letter.job, letter.reason) == (dead, "unknown category")
    assert not (tmp_path / "queue.db").exists()
    assert (tmp_path / "queue.db.adopted").exists()
    assert await adopt_leftover_queue(store_file) == 0
    assert await queue.depth() == 3


async def test_an_adoption_cut_short_is_finished_without_doubles(
    store_file: SqliteFile, tmp_path: Path
) -> None:
    """The process stopped after renaming the old file, or after copying: the next start
    copies what is missing and skips what is there."""
    clock = FakeClock()
    waiting, _ = await leave_old_queue(tmp_path / "queue.db", clock)
    (tmp_path / "queue.db").rename(tmp_path / "queue.db.adopting")
    queue = EmbeddedQueue(store_file)
    await queue.start()
    await queue.enqueue(waiting[0])  # copied before the stop
    assert await adopt_leftover_queue(store_file) == 2
    assert [lease.job for lease in await queue.lease(10, LEASE)] == waiting
    assert not (tmp_path / "queue.db.adopting").exists()


async def test_a_gateway_starting_on_an_old_data_folder_adopts_its_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPEN311_API_KEY", "a-key")
    config, _ = embedded_config(tmp_path, "http://gateway.test")
    config.gateway.worker = WorkerConfig(mode=WorkerMode.EXTERNAL)  # nothing delivers them
    waiting, _ = await leave_old_queue(tmp_path / "queue.db", FakeClock())
    runtime = Runtime(config)
    assert runtime.shared_file is not None
    await runtime.start()
    try:
        assert await runtime.queue.depth() == len(waiting)
        assert len(await runtime.queue.dead_letters(10)) == 1
    finally:
        await runtime.close()
