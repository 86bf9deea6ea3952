"""POST requests through the queue: repeats, tokens, refusals, retries, dead letters and
the circuit breaker, over HTTP against real SQLite files."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from connectors.base import TransientError
from gateway.breaker import BreakerState, CircuitBreaker
from gateway.cli import main
from gateway.config import (
    BackoffConfig,
    WorkerConfig,
    WorkerMode,
)
from gateway.mapping import MappingError
from gateway.runtime import Runtime
from gateway.store import SubmissionState
from gateway.submission import Submissions

from clientforms import API_KEY, service_of, valid_request
from conftest import embedded
from delivery import drained, eventually
from loopback import GatewayTestServer
from scripted_backend import ScriptedConnector, register, scripted_config

QUICK_BACKOFF = BackoffConfig(base_seconds=0.01, cap_seconds=0.02, max_attempts=1000)
"""Retries at once, and never giving up: the tests decide when the backend recovers."""

DOG_REPORT = {"api_key": API_KEY, "service_code": "DOG", "lat": "51.5", "long": "-0.1"}


def runtime_of(client: TestClient) -> Runtime:
    return client.server.runtime


async def post(client: TestClient, data: object, key: str | None = None) -> tuple[int, object]:
    headers = {"Idempotency-Key": key} if key is not None else {}
    response = await client.post("/requests.json", data=data, headers=headers)
    body = await response.json()
    return response.status, body[0] if response.status == 200 else body


def count_enqueues(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The idempotency keys of the jobs queued from now on: those whose admission
    stored them, not a first submission's."""
    queued: list[str] = []
    admit = runtime.admission.admit

    async def counted(job, accepted, *, awaited):  # type: ignore[no-untyped-def]
        stored = await admit(job, accepted, awaited=awaited)
        if stored.job_id == job.id:
            queued.append(job.idempotency_key)
        return stored

    monkeypatch.setattr(runtime.admission, "admit", counted)
    return queued


@pytest.fixture
async def city(aiohttp_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The embedded default with changes to its one jurisdiction and to the worker."""

    async def make(
        worker: WorkerConfig | None = None, queue_file: Path | None = None, **jurisdiction: object
    ) -> TestClient:
        config = embedded(tmp_path, monkeypatch)
        config.jurisdictions[0] = config.jurisdictions[0].model_copy(update=jurisdiction)
        if worker is not None:
            config.gateway = config.gateway.model_copy(update={"worker": worker})
        if queue_file is not None:
            queue_url = f"sqlite:///{queue_file}"
            config.gateway = config.gateway.model_copy(update={"queue_url": queue_url})
        return await aiohttp_client(GatewayTestServer(Runtime(config)))

    return make


@pytest.fixture
async def scripted(aiohttp_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A gateway on a scripted backend, and that backend."""
    register(monkeypatch)

    async def make(
        backoff: BackoffConfig = QUICK_BACKOFF,
    ) -> tuple[TestClient, ScriptedConnector]:
        config = scripted_config(
            tmp_path, API_KEY, worker=WorkerConfig(backoff=backoff), sync_wait=1.0
        )
        client = await aiohttp_client(GatewayTestServer(Runtime(config)))
        backend = runtime_of(client).tenants.resolve("city").connector
        assert isinstance(backend, ScriptedConnector)
        return client, backend

    return make


# --- hand-over ----------------------------------------------------------------------------


async def test_only_a_realtime_request_is_handed_straight_to_the_worker(
    city, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its client waits for the delivery; a batch request's job waits its turn."""
    client = await city()
    runtime = runtime_of(client)
    assert runtime.worker is not None
    handed_over: list[str] = []
    hand_over = runtime.worker.hand_over

    def recording(lease):  # type: ignore[no-untyped-def]
        handed_over.append(lease.job.idempotency_key)
        hand_over(lease)

    monkeypatch.setattr(runtime.worker, "hand_over", recording)
    for kind in ("realtime", "batch"):
        service = await service_of(client, type=kind)
        form = await valid_request(client, service["service_code"])
        assert (await post(client, form, key=kind))[0] == 200
    await drained(runtime)
    assert handed_over == ["header:realtime"]


# --- repeats ------------------------------------------------------------------------------


async def test_a_repeated_key_gets_the_first_answer_and_queues_nothing(
    city, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await city()
    queued = count_enqueues(runtime_of(client), monkeypatch)
    service = await service_of(client, type="realtime", metadata=False)
    form = await valid_request(client, service["service_code"])
    status, first = await post(client, form, key="report-1")
    assert status == 200 and "service_request_id" in first
    changed = [(k, "Another text" if k == "description" else v) for k, v in form]
    assert await post(client, changed, key="report-1") == (200, first)
    assert queued == ["header:report-1"]
    status, other = await post(client, form, key="report-2")
    assert status == 200 and other != first


async def test_the_configured_parameter_is_a_key_of_its_own(
    city, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await city(idempotency_param="attribute[fixmystreet_id]")
    queued = count_enqueues(runtime_of(client), monkeypatch)
    service = await service_of(client, type="realtime", metadata=False)
    form = [
        *await valid_request(client, service["service_code"]),
        ("attribute[fixmystreet_id]", "7"),
    ]
    _, first = await post(client, form)
    assert await post(client, form) == (200, first)
    _, keyed = await post(client, form, key="7")  # a header key of the same text differs
    assert keyed != first
    assert queued == ["param:attribute[fixmystreet_id]=7", "header:7"]


async def test_the_same_content_is_a_repeat_within_the_window_only(
    city, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await city(fingerprint_window=600)
    runtime = runtime_of(client)
    now = [datetime.now(UTC)]
    runtime.submissions = Submissions(
        runtime.store, runtime.admission, runtime.outcomes, poll_store=False, clock=lambda: now[0]
    )
    queued = count_enqueues(runtime, monkeypatch)
    service = await service_of(client, type="realtime", metadata=False)
    form = await valid_request(client, service["service_code"])
    _, first = await post(client, form)
    same = [(k, "51.5072" if k == "lat" else v) for k, v in form]  # the same number
    assert await post(client, same) == (200, first)
    now[0] += timedelta(seconds=601)
    _, later = await post(client, form)
    assert later != first
    now[0] += timedelta(seconds=1)
    assert await post(client, form) == (200, later)
    assert len(queued) == 2 and queued[0] != queued[1]
    assert all(key.startswith("fingerprint:") for key in queued)


async def test_a_repeat_keeps_its_answer_after_the_mapping_stops_taking_it(
    city, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mapping changed since the first was accepted: its repeat still gets the first
    answer, and only a new request is refused."""
    client = await city()
    service = await service_of(client, type="realtime", metadata=False)
    form = await valid_request(client, service["service_code"])
    status, first = await post(client, form, key="before-the-change")
    assert status == 200

    def refuses(*_args: object) -> None:
        raise MappingError("no category for this service any more")

    tenant = runtime_of(client).tenants.resolve("example.city")
    monkeypatch.setattr(tenant.mapping, "create_payload", refuses)
    assert await post(client, form, key="before-the-change") == (200, first)
    status, errors = await post(client, form, key="after-the-change")
    assert status == 400
    assert "request cannot be mapped for the backend" in errors[0]["description"]


async def test_a_key_longer_than_200_characters_is_refused(city) -> None:
    client = await city()
    service = await service_of(client, metadata=False)
    status, errors = await post(
        client, await valid_request(client, service["service_code"]), "k" * 201
    )
    assert status == 400
    assert errors == [{"code": 400, "description": "Idempotency-Key: longer than 200 characters"}]


# --- tokens and the wait ------------------------------------------------------------------


async def test_tokens_resolve_once_a_separate_worker_delivers(city, tmp_path: Path) -> None:
    """With `worker.mode: external` nothing is delivered until a worker runs; a realtime
    POST then hears its outcome from the store, which the worker shares."""
    client = await city(worker=WorkerConfig(mode=WorkerMode.EXTERNAL), sync_wait=0.2)
    runtime = runtime_of(client)
    assert runtime.worker is None
    batch = await service_of(client, type="batch")
    _, receipt = await post(client, await valid_request(client, batch["service_code"]))
    token = receipt["token"]
    assert (await (await client.get(f"/tokens/{token}.json")).json()) == [{"token": token}]
    realtime = await service_of(client, type="realtime", metadata=False)
    _, waited = await post(client, await valid_request(client, realtime["service_code"]))
    assert set(waited) == {"token"}  # nobody delivered it within sync_wait

    worker = Runtime(runtime.config, worker_only=True)
    await worker.start()
    try:
        await drained(runtime)
        (resolved,) = await (await client.get(f"/tokens/{token}.json")).json()
        assert set(resolved) == {"token", "service_request_id"}
        runtime.tenants.resolve(None).sync_wait = 5.0
        status, answered = await post(client, await valid_request(client, realtime["service_code"]))
        assert status == 200 and set(answered) == {"service_request_id"}
    finally:
        await worker.close()


@pytest.mark.parametrize("layout", ["queue in the store's file", "queue in a file of its own"])
async def test_a_queue_that_fails_gets_503_and_nothing_is_stored(
    city, tmp_path: Path, layout: str
) -> None:
    """The queue's database refuses the job (a trigger raises, as a full disk would):
    the client hears 503, and neither the job nor its acceptance is stored."""
    queue_file = None if layout.endswith("store's file") else tmp_path / "own" / "queue.db"
    client = await city(queue_file=queue_file)
    runtime = runtime_of(client)
    assert (runtime.shared_file is None) == (queue_file is not None)
    path = runtime.queue.path  # type: ignore[attr-defined]
    with sqlite3.connect(path) as database:
        database.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON queue_jobs "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
    service = await service_of(client, type="realtime", metadata=False)
    form = await valid_request(client, service["service_code"])
    response = await client.post("/requests.xml", data=form, headers={"Idempotency-Key": "k"})
    assert response.status == 503
    assert response.headers["Retry-After"] == "30"
    assert "could not be queued" in await response.text()
    assert "disk I/O error" in await response.text()
    assert await runtime.store.by_key("example.city", "header:k") is None
    assert await runtime.queue.depth() == 0
    with sqlite3.connect(path) as database:
        database.execute("DROP TRIGGER refuse")
    status, receipt = await post(client, form, key="k")
    assert status == 200 and "service_request_id" in receipt


# --- what the backend says ----------------------------------------------------------------


async def test_a_refusal_within_the_wait_is_a_400_with_the_backends_reason(scripted) -> None:
    client, backend = await scripted()
    backend.refusal = "category DOG is closed"
    status, errors = await post(client, DOG_REPORT, key="r1")
    message = "the backend did not accept the request: category DOG is closed"
    assert (status, errors) == (400, [{"code": 400, "description": message}])
    assert await post(client, DOG_REPORT, key="r1") == (400, errors)  # the first answer
    runtime = runtime_of(client)
    (letter,) = await runtime.queue.dead_letters(10)
    assert letter.reason == "category DOG is closed"
    dead = await runtime.store.by_key("city", "header:r1")
    assert dead is not None and dead.state is SubmissionState.DEAD
    (resolved,) = await (await client.get(f"/tokens/{dead.token}.json")).json()
    assert resolved == {"token": dead.token, "service_notice": f"not delivered: {message}"}


async def test_transient_failures_are_retried_until_delivered(scripted) -> None:
    client, backend = await scripted()
    backend.failing_creates = 3
    status, _ = await post(client, DOG_REPORT, key="t1")
    assert status == 200
    await drained(runtime_of(client))
    assert backend.references() == {"header:t1": 1}
    assert backend.calls["create"] == 4
    text = await (await client.get("/metrics")).text()
    assert 'open311_deliveries_total{jurisdiction="city",outcome="retried"} 3.0' in text
    assert 'open311_deliveries_total{jurisdiction="city",outcome="created"} 1.0' in text
    assert 'open311_deliveries_in_flight{jurisdiction="city"} 0.0' in text
    assert "open311_queue_depth 0.0" in text


async def test_exhausted_retries_are_dead_letters_and_a_replay_delivers_them(
    scripted, tmp_path: Path
) -> None:
    client, backend = await scripted(
        backoff=BackoffConfig(base_seconds=0.01, cap_seconds=0.01, max_attempts=2)
    )
    runtime = runtime_of(client)
    runtime.tenants.resolve("city").sync_wait = 0
    backend.failing_creates = 2
    _, receipt = await post(client, DOG_REPORT, key="x1")
    await drained(runtime)
    (letter,) = await runtime.queue.dead_letters(10)
    assert letter.reason == "gave up after 2 deliveries: the scripted backend timed out"
    assert backend.references() == {}
    config = tmp_path / "gateway.yaml"  # the operator's view: the same queue, from the CLI
    config.write_text(
        f"gateway:\n  queue_url: {runtime.config.gateway.queue_url}\n"
        f"jurisdictions:\n  - id: city\n    mapping: {tmp_path / 'city.yaml'}\n"
    )
    replay = ["dlq", "replay", letter.job.id, "--config", str(config)]
    assert await asyncio.to_thread(main, replay) == 0
    await drained(runtime)
    assert backend.references() == {"header:x1": 1}
    submission = await runtime.store.by_key("city", "header:x1")
    assert submission is not None and submission.state is SubmissionState.DELIVERED
    assert backend.calls["find_by_reference"] == 2  # the retry and the replay looked first
    assert receipt == {"token": submission.token}


async def test_an_open_breaker_keeps_the_queue_accepting_and_drains_after_recovery(
    scripted,
) -> None:
    client, backend = await scripted()
    runtime = runtime_of(client)
    tenant = runtime.tenants.resolve("city")
    clock = [0.0]
    tenant.backend.breaker = CircuitBreaker(
        failure_threshold=2, reset_after=30, clock=lambda: clock[0]
    )
    tenant.sync_wait = 0
    backend.failure = TransientError("the scripted backend is down")
    answers = [await post(client, DOG_REPORT, key="b0")]
    await eventually(lambda: tenant.backend.breaker.state is BreakerState.OPEN)
    calls_when_opened = backend.calls["create"]
    answers += [await post(client, DOG_REPORT, key=f"b{i}") for i in range(1, 5)]
    assert all(status == 200 and set(body) == {"token"} for status, body in answers)
    await eventually(lambda: retried(runtime) >= 50)
    assert backend.calls["create"] == calls_when_opened  # the open breaker spares it
    text = await (await client.get("/metrics")).text()
    assert 'open311_backend_breaker_state{jurisdiction="city"} 2.0' in text

    backend.failure = None
    clock[0] += 30
    await drained(runtime)
    assert backend.references() == {f"header:b{i}": 1 for i in range(5)}
    for _, body in answers:
        (resolved,) = await (await client.get(f"/tokens/{body['token']}.json")).json()
        assert "service_request_id" in resolved


def retried(runtime: Runtime) -> float:
    labels = {"jurisdiction": "city", "outcome": "retried"}
    return runtime.metrics.registry.get_sample_value("open311_deliveries_total", labels) or 0.0
