"""`open311-gateway dlq`: dead letters listed, shown, replayed and discarded from the CLI."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.outcomes import Outcome
from gateway.queue import EmbeddedQueue, Job, JobKind
from gateway.store import Store
from mappings import mapping_path

PAYLOAD = b'{"email":"jane@example.org","first_name":"Jane"}'
QUEUE_FILE = "gateway.db"
"""The embedded default keeps its queue in the store's file."""


async def dead_jobs(path: Path, reasons: list[str]) -> list[str]:
    """Job ids, dead-lettered with `reasons`, in the queue file at `path`."""
    queue = EmbeddedQueue(path)
    await queue.start()
    try:
        for index in range(len(reasons)):
            job = Job.create("example.city", JobKind.CREATE_REQUEST, f"key-{index}", PAYLOAD)
            await queue.enqueue(job)
        leases = await queue.lease(len(reasons), 30)
        for lease, reason in zip(leases, reasons, strict=True):
            assert await queue.dead_letter(lease.job.id, lease.token, reason)
        return [lease.job.id for lease in leases]
    finally:
        await queue.close()


async def depth(path: Path) -> int:
    queue = EmbeddedQueue(path)
    await queue.start()
    try:
        return await queue.depth()
    finally:
        await queue.close()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("OPEN311_DATA_DIR", str(tmp_path))
    return tmp_path


def test_list_shows_every_dead_letter_without_payloads(data_dir: Path, capsys) -> None:
    ids = asyncio.run(dead_jobs(data_dir / QUEUE_FILE, ["unknown category", "bad address"]))
    assert main(["dlq", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 2
    assert {line.split()[0] for line in lines} == set(ids)
    assert "unknown category" in out and "bad address" in out and "create_request" in out
    assert "jane" not in out.lower()


def test_show_hides_the_payload_unless_asked(data_dir: Path, capsys) -> None:
    (job_id,) = asyncio.run(dead_jobs(data_dir / QUEUE_FILE, ["unknown category"]))
    assert main(["dlq", "show", job_id]) == 0
    out = capsys.readouterr().out
    assert f"id: {job_id}" in out and "reason: unknown category" in out
    assert "deliveries: 1" in out and "jane" not in out.lower()
    assert main(["dlq", "show", job_id, "--payload"]) == 0
    assert f"payload: {PAYLOAD.decode()}" in capsys.readouterr().out


def test_replay_puts_the_job_back_and_discard_drops_it(data_dir: Path, capsys) -> None:
    replayed, discarded = asyncio.run(dead_jobs(data_dir / QUEUE_FILE, ["timeout", "refused"]))
    assert main(["dlq", "replay", replayed]) == 0
    assert main(["dlq", "discard", discarded]) == 0
    capsys.readouterr()
    assert asyncio.run(depth(data_dir / QUEUE_FILE)) == 1
    assert main(["dlq", "list"]) == 0
    assert capsys.readouterr().out == "no dead letters\n"


async def dead_submission(store_file: Path, reason: str) -> str:
    """The job id of a request the store recorded as dead-lettered with `reason`."""
    store = Store(f"sqlite:///{store_file}")
    await store.start()
    try:
        job = Job.create("example.city", JobKind.CREATE_REQUEST, "header:k1", PAYLOAD)
        await store.settle(job, Outcome(job.id, job.jurisdiction_id, None, reason))
        return job.id
    finally:
        await store.close()


def test_audit_lists_the_dead_submissions_the_store_keeps(data_dir: Path, capsys) -> None:
    assert main(["dlq", "audit"]) == 0
    assert capsys.readouterr().out == "no dead submissions\n"
    job_id = asyncio.run(dead_submission(data_dir / "gateway.db", "unknown category"))
    assert main(["dlq", "audit"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(job_id) and line.endswith("example.city  unknown category")
    assert "jane" not in line.lower()


@pytest.mark.parametrize("action", ["show", "replay", "discard"])
def test_an_unknown_id_fails_clearly(data_dir: Path, action: str, capsys) -> None:
    assert main(["dlq", action, "no-such-job"]) == 1
    assert "no dead letter with id 'no-such-job'" in capsys.readouterr().err


def test_the_queue_named_by_a_config_file(tmp_path: Path, capsys) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(
        "gateway:\n  queue_url: sqlite:///spool/jobs.db\njurisdictions:\n"
        f"  - id: example.city\n    mapping: {mapping_path('embedded.yaml')}\n",
        encoding="utf-8",
    )
    (job_id,) = asyncio.run(dead_jobs(tmp_path / "spool" / "jobs.db", ["refused"]))
    assert main(["dlq", "list", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith(job_id)
