"""A child process for the queue's SIGKILL drills (see test_queue_crash.py).

python queue_drill.py produce QUEUE_FILE COUNT
    enqueues COUNT jobs from concurrent tasks; prints each job id on stdout only
    after `enqueue` returned, so every printed id was acknowledged as durable.
python queue_drill.py consume QUEUE_FILE LEDGER LEASE_SECONDS
    leases and completes jobs until the queue is empty; before completing a job
    it appends the id to LEDGER (synced), as a worker records a delivery; after
    `complete` returned True it prints the id on stdout.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import replace
from pathlib import Path

from gateway.queue import EmbeddedQueue, Job, JobKind
from gateway.queue.jobs import new_job_id

PRODUCERS = 32
LEASE_BATCH = 8


def drill_job(job_id: str) -> Job:
    """A job whose payload names its id, so a check can see it was stored whole."""
    job = Job.create("drill.city", JobKind.CREATE_REQUEST, f"key-{job_id}", b"")
    return replace(job, id=job_id, payload=f'{{"drill":"{job_id}"}}'.encode())


async def produce(path: Path, count: int) -> None:
    queue = EmbeddedQueue(path)
    await queue.start()
    remaining = iter(range(count))

    async def producer() -> None:
        for _ in remaining:
            job = drill_job(new_job_id())
            await queue.enqueue(job)
            sys.stdout.write(f"{job.id}\n")
            sys.stdout.flush()

    await asyncio.gather(*(producer() for _ in range(PRODUCERS)))
    await queue.close()


async def consume(path: Path, ledger_path: Path, lease_seconds: float) -> None:
    queue = EmbeddedQueue(path)
    await queue.start()
    with ledger_path.open("a", encoding="utf-8") as ledger:
        while True:
            leases = await queue.lease(LEASE_BATCH, lease_seconds)
            if not leases:
                if await queue.depth() == 0:
                    break
                await queue.wait_for_work(lease_seconds)  # a killed consumer's leases expire
                continue
            for lease in leases:
                ledger.write(f"{lease.job.id}\n")
                ledger.flush()
                os.fsync(ledger.fileno())
                if await queue.complete(lease.job.id, lease.token):
                    sys.stdout.write(f"{lease.job.id}\n")
                    sys.stdout.flush()
    await queue.close()


def main(argv: list[str]) -> None:
    command, path, *rest = argv
    if command == "produce":
        asyncio.run(produce(Path(path), int(rest[0])))
    elif command == "consume":
        asyncio.run(consume(Path(path), Path(rest[0]), float(rest[1])))
    else:
        raise SystemExit(f"unknown drill command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
