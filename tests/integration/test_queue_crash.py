"""SIGKILL drills: a child process using the embedded queue is killed at random moments
(seeded) and restarted. Every acknowledged enqueue survives, exactly once; nothing a
consumer saw completed is handed out again, and nothing enqueued is lost.

`OPEN311_DRILL_SIZE` sets the number of kills per drill (default 4, a few seconds);
`OPEN311_DRILL_SEED` picks the moments.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from gateway.queue import EmbeddedQueue, Job, JobKind

DRILL = Path(__file__).with_name("queue_drill.py")
KILLS = int(os.environ.get("OPEN311_DRILL_SIZE", "4"))
SEED = int(os.environ.get("OPEN311_DRILL_SEED", "311"))
BURST = 150
"""Jobs a producer child enqueues when it is not killed first."""
JOBS_PER_KILL = 40
LEASE_SECONDS = 0.5
"""Short, so a killed consumer's leases expire soon after its restart."""
DEADLINE = 120.0
"""A child still running after this is stuck: killed, and the drill fails."""


def run_child(args: list[str], kill_after: int | None) -> list[str]:
    """Lines the child printed in full; SIGKILLed once `kill_after` lines were read.

    The rest of stdout is read through the same buffered reader as the first lines:
    `communicate()` reads the pipe itself and would miss what `readline` read ahead,
    leaving the tail of a split line to pass for a whole one. Stderr goes to a file,
    so that the child never blocks on it while stdout is read to the end.
    """
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(
            [sys.executable, str(DRILL), *args], stdout=subprocess.PIPE, stderr=errors
        )
        stuck = threading.Event()

        def on_deadline() -> None:
            stuck.set()
            child.kill()

        watchdog = threading.Timer(DEADLINE, on_deadline)
        watchdog.start()
        assert child.stdout is not None
        lines: list[bytes] = []
        try:
            if kill_after is not None:
                while len(lines) < kill_after and (line := child.stdout.readline()):
                    lines.append(line)
                child.send_signal(signal.SIGKILL)
            lines += child.stdout.read().splitlines(keepends=True)
            child.wait()
        finally:
            watchdog.cancel()
            child.stdout.close()
        errors.seek(0)
        err = errors.read().decode()[-2000:]
    assert not stuck.is_set(), f"drill child stuck: {err}"
    expected = (0, -signal.SIGKILL) if kill_after is not None else (0,)
    assert child.returncode in expected, f"drill child failed: {err}"
    return [line.decode().strip() for line in lines if line.endswith(b"\n")]


async def lease_everything(path: Path) -> list[Job]:
    queue = EmbeddedQueue(path)
    await queue.start()
    try:
        return [lease.job for lease in await queue.lease(1_000_000, 60)]
    finally:
        await queue.close()


async def fill(path: Path, count: int) -> set[str]:
    queue = EmbeddedQueue(path)
    await queue.start()
    try:
        jobs = [
            Job.create("drill.city", JobKind.CREATE_REQUEST, f"k{i}", b"{}") for i in range(count)
        ]
        await asyncio.gather(*(queue.enqueue(job) for job in jobs))
        return {job.id for job in jobs}
    finally:
        await queue.close()


def test_every_acknowledged_enqueue_survives_sigkill_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    path = tmp_path / "queue.db"
    acknowledged: list[str] = []
    for _ in range(KILLS):
        acknowledged += run_child(["produce", str(path), str(BURST)], rng.randrange(BURST))
    acknowledged += run_child(["produce", str(path), str(BURST)], None)

    stored = asyncio.run(lease_everything(path))
    copies = Counter(job.id for job in stored)
    assert len(acknowledged) == len(set(acknowledged)) >= BURST
    assert [job_id for job_id in acknowledged if copies[job_id] != 1] == []
    for job in stored:  # acknowledged or not, nothing is half-written
        assert job.payload == f'{{"drill":"{job.id}"}}'.encode()
        assert job.idempotency_key == f"key-{job.id}"


def test_a_killed_consumer_loses_nothing_and_repeats_no_completed_job(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    path = tmp_path / "queue.db"
    enqueued = asyncio.run(fill(path, KILLS * JOBS_PER_KILL))
    completed_in: dict[str, int] = {}
    for run in range(KILLS + 1):
        kill_after = rng.randrange(JOBS_PER_KILL) if run < KILLS else None
        ledger = tmp_path / f"ledger-{run}.txt"
        args = ["consume", str(path), str(ledger), str(LEASE_SECONDS)]
        for job_id in run_child(args, kill_after):
            assert job_id not in completed_in, f"{job_id} completed twice"
            completed_in[job_id] = run

    delivered = [ledger_ids(tmp_path / f"ledger-{run}.txt") for run in range(KILLS + 1)]
    assert enqueued <= set().union(*delivered), "a job left the queue undelivered"
    for job_id, run in completed_in.items():
        assert delivered[run].count(job_id) == 1, f"{job_id} handed out again after completion"
        assert all(job_id not in later for later in delivered[run + 1 :])
    assert asyncio.run(lease_everything(path)) == []


def ledger_ids(path: Path) -> list[str]:
    """Ids a consumer recorded in full; a line cut by the kill does not count."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    return text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]
