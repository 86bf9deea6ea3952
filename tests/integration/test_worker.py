"""The worker on its own (`worker_only` runtime), against the scripted backend and real
SQLite files: redeliveries and twins are found, not created again; jobs it cannot
deliver are dead letters; jobs wait for a connector that has not started (or cannot be
imported) instead; close lets deliveries in flight finish."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway import connector_start
from gateway.config import BackoffConfig, Config, WorkerConfig
from gateway.open311.models import Location, NewServiceRequest
from gateway.outcomes import Outcome
from gateway.queue import Backoff, EmbeddedQueue, Job, Lease
from gateway.request_jobs import new_request_job
from gateway.runtime import Runtime
from gateway.store import Store, Submission, SubmissionState

from delivery import drained, eventually
from scripted_backend import DOG, POT, ScriptedConnector, register, scripted_config

REPORT = NewServiceRequest(service_code="DOG", location=Location(lat=51.5, long=-0.1))


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    register(monkeypatch)
    return scripted_config(tmp_path, "key", worker=WorkerConfig(poll_seconds=0.02))


def job_for(key: str, jurisdiction_id: str = "city") -> Job:
    now = datetime.now(UTC)
    return new_request_job(jurisdiction_id, REPORT, key, reply_to=None, now=now)


async def enqueue(config: Config, *jobs: Job, crashed_lease: float | None = None) -> None:
    """Queue the jobs; with `crashed_lease`, a worker leases them and dies unsettled."""
    queue = EmbeddedQueue(Path(config.gateway.queue_url.partition(":///")[2]))
    await queue.start()
    try:
        for job in jobs:
            await queue.enqueue(job)
        if crashed_lease is not None:
            assert len(await queue.lease(len(jobs), crashed_lease)) == len(jobs)
    finally:
        await queue.close()


@pytest.fixture
async def worker(config: Config) -> AsyncIterator[Runtime]:
    runtime = Runtime(config, worker_only=True)
    yield runtime
    await runtime.close()


def backend_of(runtime: Runtime) -> ScriptedConnector:
    connector = runtime.tenants.resolve("city").connector
    assert isinstance(connector, ScriptedConnector)
    return connector


def count(runtime: Runtime, outcome: str, jurisdiction: str = "city") -> float:
    labels = {"jurisdiction": jurisdiction, "outcome": outcome}
    return runtime.metrics.registry.get_sample_value("open311_deliveries_total", labels) or 0.0


async def test_a_job_redelivered_after_a_crash_is_found_not_created_again(
    config: Config, worker: Runtime
) -> None:
    crashed = job_for("header:k1")
    await enqueue(config, crashed, crashed_lease=0.3)
    backend = backend_of(worker)
    await backend.create({"kind": "DOG"}, "header:k1")  # what the crashed worker did
    await worker.start()
    await drained(worker)
    assert backend.references() == {"header:k1": 1}
    assert backend.calls == {"create": 1, "find_by_reference": 1}
    stored = await worker.store.submission("city", crashed.id)
    assert stored is not None and stored.state is SubmissionState.DELIVERED
    await eventually(lambda: count(worker, "found") == 1)  # counted just after the job left


async def test_a_twin_of_a_delivered_key_only_leaves_the_queue(
    config: Config, worker: Runtime
) -> None:
    first, twin = job_for("header:k1"), job_for("header:k1")
    store = Store(config.gateway.store_url)
    await store.start()
    try:
        await store.accept(
            Submission(
                first.id,
                "city",
                first.idempotency_key,
                None,
                SubmissionState.ACCEPTED,
                first.enqueued_at,
            )
        )
        await store.settle(first, Outcome(first.id, "city", "41", None))
    finally:
        await store.close()
    await enqueue(config, twin)
    await worker.start()
    await drained(worker)
    assert backend_of(worker).calls == {}
    await eventually(lambda: count(worker, "found") == 1)  # counted just after the job left


async def test_jobs_it_cannot_deliver_are_dead_letters(config: Config, worker: Runtime) -> None:
    elsewhere = job_for("header:k1", jurisdiction_id="other.city")
    garbled = replace(job_for("header:k2"), payload=b'{"service_code": 42}')
    await enqueue(config, elsewhere, garbled)
    await worker.start()
    await drained(worker)
    reasons = {letter.job.id: letter.reason for letter in await worker.queue.dead_letters(10)}
    assert reasons == {
        elsewhere.id: "jurisdiction other.city is not configured on this worker",
        garbled.id: "the job's payload is not a valid request",
    }
    assert backend_of(worker).calls == {}
    await eventually(lambda: count(worker, "dead") == count(worker, "dead", "other.city") == 1)


async def test_close_lets_a_delivery_in_flight_finish(config: Config, worker: Runtime) -> None:
    slow = job_for("header:slow")
    await enqueue(config, slow)
    backend = backend_of(worker)
    backend.create_seconds = 0.3
    await worker.start()
    await eventually(lambda: backend.calls["create"] == 1)
    await worker.close()
    assert backend.references() == {"header:slow": 1}
    store = Store(config.gateway.store_url)
    await store.start()
    try:
        stored = await store.submission("city", slow.id)
    finally:
        await store.close()
    assert stored is not None and stored.state is SubmissionState.DELIVERED


def patient_config(tmp_path: Path, **connector: object) -> Config:
    """Deliveries retried every 10 ms, and so many times that no job here becomes a dead
    letter by giving up."""
    backoff = BackoffConfig(base_seconds=0.01, cap_seconds=0.01, max_attempts=100_000)
    worker = WorkerConfig(poll_seconds=0.02, backoff=backoff)
    return scripted_config(tmp_path, "key", worker=worker, connector=connector)


async def test_jobs_wait_for_a_connector_that_has_not_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(monkeypatch)
    monkeypatch.setattr(connector_start, "RETRY", Backoff(base_seconds=0.01, cap_seconds=0.01))
    config = patient_config(tmp_path, settings={"services": [POT, DOG], "unstartable": True})
    waiting = job_for("header:k1")
    await enqueue(config, waiting)
    runtime = Runtime(config, worker_only=True)
    try:
        await runtime.start()
        await eventually(lambda: count(runtime, "retried") >= 2)
        backend = backend_of(runtime)
        assert backend.calls == {}
        backend.start_failure = None
        await drained(runtime)
        assert backend.references() == {"header:k1": 1}
        assert await runtime.queue.dead_letters(10) == []
    finally:
        await runtime.close()


async def test_jobs_wait_for_a_connector_that_cannot_be_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(monkeypatch)
    register(monkeypatch, "broken", "open311_no_such_module:Connector")
    config = patient_config(tmp_path, kind="broken")
    await enqueue(config, job_for("header:k1"))
    runtime = Runtime(config, worker_only=True)
    try:
        await runtime.start()
        await eventually(lambda: count(runtime, "retried") >= 2)
        assert await runtime.queue.depth() == 1
        assert await runtime.queue.dead_letters(10) == []
    finally:
        await runtime.close()


async def test_a_job_handed_over_by_its_admission_is_neither_leased_nor_looked_up(
    worker: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    leased: list[Lease] = []
    lookups: list[str] = []
    lease, by_key = worker.queue.lease, worker.store.by_key

    async def recording_lease(limit: int, seconds: float) -> list[Lease]:
        leased.extend(found := await lease(limit, seconds))
        return found

    async def recording_by_key(jurisdiction_id: str, key: str) -> Submission | None:
        lookups.append(key)
        return await by_key(jurisdiction_id, key)

    monkeypatch.setattr(worker.queue, "lease", recording_lease)
    monkeypatch.setattr(worker.store, "by_key", recording_by_key)
    await worker.start()
    job = job_for("header:k1")
    stored = await worker.admission.admit(job, Submission.accepting(job), awaited=True)
    assert stored.job_id == job.id
    await drained(worker)
    assert backend_of(worker).calls == {"create": 1}
    assert leased == lookups == []
    stored = await worker.store.submission("city", job.id)
    assert stored is not None and stored.state is SubmissionState.DELIVERED


async def test_a_delivery_holds_its_slot_until_its_outcome_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(monkeypatch)
    one_slot = WorkerConfig(concurrency=1, poll_seconds=0.02)
    runtime = Runtime(scripted_config(tmp_path, "key", worker=one_slot), worker_only=True)
    try:
        await runtime.start()
        assert runtime.worker is not None
        backend = backend_of(runtime)
        backend.create_seconds = 0.3
        first, second = job_for("header:k1"), job_for("header:k2")
        await runtime.admission.admit(first, Submission.accepting(first), awaited=True)
        await eventually(lambda: backend.calls["create"] == 1)
        assert runtime.worker.reserve(second) is None
        await runtime.admission.admit(second, Submission.accepting(second), awaited=True)
        await drained(runtime)
        assert backend.references() == {"header:k1": 1, "header:k2": 1}
        lease = runtime.worker.reserve(second)
        assert lease is not None and lease.admitted
        runtime.worker.release(lease)
    finally:
        await runtime.close()
