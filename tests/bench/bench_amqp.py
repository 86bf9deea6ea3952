"""Enqueue throughput of the RabbitMQ queue against aio-pika's own confirmed publishes.

The baseline is aio-pika alone: persistent messages with the same body published to a
fresh quorum queue on a channel with publisher confirms, each publish awaiting its
confirm. The other side is `AmqpQueue.enqueue` (the same guarantees, plus the job's
headers, a mandatory flag and its own topology). For 1, 16, 64 and 256 tasks
publishing at once, both run in the same process, alternately, `--rounds` times;
each keeps its best round. Printed: messages/s of each and the ratio queue/aio-pika
(target >= 0.7). Every queue the benchmark declared is deleted at the end.

Run:  python tests/bench/bench_amqp.py [--url amqp://...] [--jobs 4000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator

import aio_pika
from aio_pika import DeliveryMode, Message

from gateway.queue import AmqpQueue, Job, JobKind

CONCURRENCY = (1, 16, 64, 256)
TARGET = 0.7


async def run_producers(
    jobs: list[Job], concurrency: int, send: Callable[[Job], Awaitable[None]]
) -> float:
    """Seconds `concurrency` tasks take to send every job, each awaiting its confirm."""
    remaining: Iterator[Job] = iter(jobs)

    async def producer() -> None:
        for job in remaining:
            await send(job)

    started = time.perf_counter()
    await asyncio.gather(*(producer() for _ in range(concurrency)))
    return time.perf_counter() - started


async def aio_pika_alone(url: str, jobs: list[Job], concurrency: int) -> float:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(
            f"bench-{secrets.token_hex(4)}", durable=True, arguments={"x-queue-type": "quorum"}
        )
        try:

            async def send(job: Job) -> None:
                message = Message(job.payload, delivery_mode=DeliveryMode.PERSISTENT)
                await channel.default_exchange.publish(message, queue.name)

            elapsed = await run_producers(jobs, concurrency, send)
            declared = await channel.declare_queue(queue.name, passive=True)
            if declared.declaration_result.message_count != len(jobs):
                raise SystemExit("the baseline queue does not hold every message")
        finally:
            await queue.delete(if_unused=False, if_empty=False)
    finally:
        await connection.close()
    return len(jobs) / elapsed


async def amqp_queue(url: str, jobs: list[Job], concurrency: int) -> float:
    queue = AmqpQueue(url, name_prefix=f"bench-{secrets.token_hex(4)}")
    await queue.start()
    try:
        elapsed = await run_producers(jobs, concurrency, queue.enqueue)
        if await queue.depth() != len(jobs):
            raise SystemExit("the queue does not hold every job: figures are meaningless")
    finally:
        await queue.close()
        connection = await aio_pika.connect(url)
        try:
            await queue.topology.delete(await connection.channel())
        finally:
            await connection.close()
    return len(jobs) / elapsed


def new_jobs(count: int, payload_bytes: int) -> list[Job]:
    payload = b'{"description":"' + b"x" * max(0, payload_bytes - 18) + b'"}'
    return [
        Job.create("bench.city", JobKind.CREATE_REQUEST, f"key-{i}", payload) for i in range(count)
    ]


async def main(args: argparse.Namespace) -> None:
    jobs = new_jobs(args.jobs, args.payload_bytes)
    print(f"{args.jobs} persistent messages of {len(jobs[0].payload)} bytes per run, quorum queues")
    print(f"{'tasks':>5}  {'aio-pika msg/s':>14}  {'AmqpQueue jobs/s':>16}  {'ratio':>5}  target")
    for concurrency in CONCURRENCY:
        baseline = ours = 0.0
        for _ in range(args.rounds):
            baseline = max(baseline, await aio_pika_alone(args.url, jobs, concurrency))
            ours = max(ours, await amqp_queue(args.url, jobs, concurrency))
        ratio = ours / baseline
        verdict = "ok" if ratio >= TARGET else "BELOW"
        figures = f"{concurrency:>5}  {baseline:>14.0f}  {ours:>16.0f}  {ratio:>5.2f}"
        print(f"{figures}  >= {TARGET} {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", default=os.environ.get("OPEN311_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1/")
    )
    parser.add_argument("--jobs", type=int, default=4000)
    parser.add_argument("--payload-bytes", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
