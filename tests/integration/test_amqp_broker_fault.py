"""Broker faults: the link to RabbitMQ is cut mid-burst by a fault-injecting proxy on
loopback (the shared server keeps running). No enqueue returns without the broker's
confirm; every one that returned is in the queue; every one that failed raised
`QueueUnavailable`; once the proxy lets connections through again, the queue works
again by itself.

`OPEN311_DRILL_SIZE` scales the burst (jobs per burst = 50 x size; default 4).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator

import pytest
from faultproxy import FaultProxy

from gateway.queue import AmqpQueue, Job, JobKind, Lease, QueueUnavailable

from services import rabbitmq_topology, rabbitmq_url

BURST = 50 * int(os.environ.get("OPEN311_DRILL_SIZE", "4"))
CUT_AFTER = BURST // 4
"""Confirmed enqueues before the cut: the rest of the burst is in flight or not sent."""
LEASE = 30.0
RECOVERY = 60.0
"""Seconds the queue may take to reconnect once the proxy accepts again."""


@pytest.fixture
async def proxy() -> AsyncIterator[FaultProxy]:
    async with FaultProxy.before(await rabbitmq_url()) as proxy:
        yield proxy


@pytest.fixture
async def queue(proxy: FaultProxy) -> AsyncIterator[AmqpQueue]:
    url = await rabbitmq_url()
    queue = AmqpQueue(
        proxy.url(url), name_prefix=f"test-{secrets.token_hex(4)}", reconnect_interval=0.2
    )
    async with rabbitmq_topology(url, queue.topology):
        await queue.start()
        try:
            yield queue
        finally:
            await queue.close()


def new_job(key: str) -> Job:
    return Job.create("drill.city", JobKind.CREATE_REQUEST, key, f'{{"k":"{key}"}}'.encode())


async def until_it_works(queue: AmqpQueue) -> Job:
    """Enqueues a probe until the reconnected queue takes it; every failure on the way
    is QueueUnavailable, raised at once."""
    async with asyncio.timeout(RECOVERY):
        while True:
            probe = new_job(f"probe-{secrets.token_hex(4)}")
            try:
                await queue.enqueue(probe)
            except QueueUnavailable:
                await asyncio.sleep(0.1)
            else:
                return probe


async def lease_until(queue: AmqpQueue, wanted: set[str]) -> list[Lease]:
    """Leases until every wanted job id came (others may come too)."""
    leases: list[Lease] = []
    async with asyncio.timeout(RECOVERY):
        while not wanted <= {lease.job.id for lease in leases}:
            leases += await queue.lease(100, LEASE)
            await queue.wait_for_work(0.5)
    return leases


async def complete_until(queue: AmqpQueue, wanted: set[str]) -> set[str]:
    """Completes jobs as they come until every wanted one came: the ids completed."""
    completed: set[str] = set()
    async with asyncio.timeout(RECOVERY):
        while not wanted <= completed:
            for lease in await queue.lease(100, LEASE):
                assert await queue.complete(lease.job.id, lease.token)
                completed.add(lease.job.id)
            await queue.wait_for_work(0.5)
    return completed


async def test_a_cut_mid_burst_never_answers_without_a_confirm(
    proxy: FaultProxy, queue: AmqpQueue
) -> None:
    jobs = [new_job(f"k{i}") for i in range(BURST)]
    confirmed: list[str] = []
    enough = asyncio.Event()

    async def enqueue(job: Job) -> None:
        await queue.enqueue(job)
        confirmed.append(job.id)
        if len(confirmed) >= CUT_AFTER:
            enough.set()

    burst = [asyncio.create_task(enqueue(job)) for job in jobs]
    await enough.wait()
    proxy.cut()
    outcomes = await asyncio.gather(*burst, return_exceptions=True)
    failures = [outcome for outcome in outcomes if outcome is not None]

    assert all(isinstance(failure, QueueUnavailable) for failure in failures), failures
    assert len(confirmed) + len(failures) == BURST
    with pytest.raises(QueueUnavailable):
        await queue.enqueue(new_job("during-the-outage"))

    proxy.accept()
    probe = await until_it_works(queue)
    completed = await complete_until(queue, {*confirmed, probe.id})
    assert completed <= {job.id for job in jobs} | {probe.id}


async def test_leases_from_before_a_reconnect_settle_nothing(
    proxy: FaultProxy, queue: AmqpQueue
) -> None:
    """The broker hands the jobs out again on the new channel; only the new tokens count."""
    jobs = [new_job(f"k{i}") for i in range(3)]
    for job in jobs:
        await queue.enqueue(job)
    stale = await lease_until(queue, {job.id for job in jobs})
    proxy.cut()
    proxy.accept()
    await until_it_works(queue)

    for lease in stale:
        assert not await queue.complete(lease.job.id, lease.token)
        assert not await queue.retry(lease.job.id, lease.token, 0, "timeout")
        assert not await queue.dead_letter(lease.job.id, lease.token, "refused")
    again = await lease_until(queue, {job.id for job in jobs})
    current = [lease for lease in again if lease.job.id in {job.id for job in jobs}]
    assert {lease.token for lease in current}.isdisjoint(lease.token for lease in stale)
    for lease in current:
        assert await queue.complete(lease.job.id, lease.token)
    assert proxy.accepted >= 2
