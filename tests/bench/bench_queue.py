"""Enqueue throughput of the embedded queue: group commit against one commit per job.

Both sides are the same `EmbeddedQueue` on a fresh SQLite file (WAL, synchronous=FULL,
every enqueue durable before it returns); the baseline runs with `max_batch=1`, so
every job pays its own transaction, commit and fsync. Printed per concurrency (tasks
enqueueing at once): jobs/s and commits/s of each, jobs per commit, and the ratio
grouped/baseline. Compare ratios from one run; absolute figures vary with the disk.

Run:  python tests/bench/bench_queue.py [--jobs 4000] [--payload-bytes 600]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.queue import EmbeddedQueue, Job, JobKind

CONCURRENCY = (1, 16, 64, 256)


@dataclass(frozen=True, slots=True)
class Figures:
    jobs_per_second: float
    commits_per_second: float
    jobs_per_commit: float


async def measure(path: Path, jobs: list[Job], concurrency: int, max_batch: int) -> Figures:
    queue = EmbeddedQueue(path, max_batch=max_batch)
    await queue.start()
    try:
        remaining = iter(jobs)

        async def producer() -> None:
            for job in remaining:
                await queue.enqueue(job)

        commits_before = queue.commits
        started = time.perf_counter()
        await asyncio.gather(*(producer() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        commits = queue.commits - commits_before
        if await queue.depth() != len(jobs):
            raise SystemExit("the queue does not hold every job: figures are meaningless")
    finally:
        await queue.close()
    return Figures(len(jobs) / elapsed, commits / elapsed, len(jobs) / commits)


def new_jobs(count: int, payload_bytes: int) -> list[Job]:
    payload = b'{"description":"' + b"x" * max(0, payload_bytes - 18) + b'"}'
    return [
        Job.create("bench.city", JobKind.CREATE_REQUEST, f"key-{i}", payload) for i in range(count)
    ]


async def run(args: argparse.Namespace) -> None:
    print(
        f"{'tasks':>5}  {'grouped jobs/s':>14}  {'commits/s':>9}  {'jobs/commit':>11}  "
        f"{'1-per-job jobs/s':>16}  {'commits/s':>9}  {'ratio':>6}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as folder:
        for concurrency in CONCURRENCY:
            figures = []
            for label, max_batch in (("grouped", 256), ("naive", 1)):
                path = Path(folder) / f"{label}-{concurrency}.db"
                jobs = new_jobs(args.jobs, args.payload_bytes)
                figures.append(await measure(path, jobs, concurrency, max_batch))
            grouped, naive = figures
            print(
                f"{concurrency:>5}  {grouped.jobs_per_second:>14,.0f}  "
                f"{grouped.commits_per_second:>9,.0f}  {grouped.jobs_per_commit:>11.1f}  "
                f"{naive.jobs_per_second:>16,.0f}  {naive.commits_per_second:>9,.0f}  "
                f"{grouped.jobs_per_second / naive.jobs_per_second:>6.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4000, help="jobs per measurement")
    parser.add_argument("--payload-bytes", type=int, default=600)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
