"""Outcomes over RabbitMQ: a worker's announcement reaches the gateway instance waiting
for it, on another connection, by correlation id; and still does after a reconnect."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace

import aio_pika
import pytest
from aiormq.exceptions import ChannelNotFoundEntity
from faultproxy import FaultProxy

from gateway.outcomes import Outcome
from gateway.queue import Job, JobKind
from gateway.queue.amqp_outcomes import AmqpOutcomes

from services import rabbitmq_url

DEADLINE = 20.0


async def started(url: str) -> AmqpOutcomes:
    outcomes = AmqpOutcomes(url, name_prefix=f"test-{secrets.token_hex(4)}", reconnect_interval=0.2)
    await outcomes.start()
    return outcomes


@pytest.fixture
async def broker() -> str:
    return await rabbitmq_url()


@pytest.fixture
async def gateway(broker: str) -> AsyncIterator[AmqpOutcomes]:
    outcomes = await started(broker)
    yield outcomes
    await outcomes.close()


@pytest.fixture
async def worker(broker: str) -> AsyncIterator[AmqpOutcomes]:
    outcomes = await started(broker)
    yield outcomes
    await outcomes.close()


def job_for(gateway: AmqpOutcomes) -> Job:
    job = Job.create("example.city", JobKind.CREATE_REQUEST, secrets.token_hex(4), b"{}")
    return replace(job, reply_to=gateway.address)


def created(job: Job) -> Outcome:
    return Outcome(job.id, job.jurisdiction_id, service_request_id="SR-1", error=None)


async def test_an_outcome_reaches_the_instance_that_expects_it(
    gateway: AmqpOutcomes, worker: AmqpOutcomes
) -> None:
    assert gateway.address is not None and gateway.address != worker.address
    created_job, refused_job = job_for(gateway), job_for(gateway)
    waiting = gateway.expect(created_job.id), gateway.expect(refused_job.id)
    refused = Outcome(refused_job.id, "example.city", None, error="unknown category")
    await worker.announce(refused_job, refused)
    await worker.announce(created_job, created(created_job))
    async with asyncio.timeout(DEADLINE):
        assert await waiting[0] == created(created_job)
        assert await waiting[1] == refused


async def test_outcomes_nobody_waits_for_are_ignored(
    gateway: AmqpOutcomes, worker: AmqpOutcomes
) -> None:
    forgotten, unknown, expected = job_for(gateway), job_for(gateway), job_for(gateway)
    given_up = gateway.expect(forgotten.id)
    gateway.forget(forgotten.id)
    assert given_up.cancelled()
    waiting = gateway.expect(expected.id)
    for job in (forgotten, unknown, expected):
        await worker.announce(job, created(job))
    async with asyncio.timeout(DEADLINE):
        assert await waiting == created(expected)


async def test_a_job_without_a_reply_address_is_not_announced(worker: AmqpOutcomes) -> None:
    job = Job.create("example.city", JobKind.CREATE_REQUEST, "key", b"{}")
    await worker.announce(job, created(job))


async def test_the_reply_queue_lives_and_dies_with_its_instance(
    broker: str, worker: AmqpOutcomes
) -> None:
    gateway = AmqpOutcomes(broker)
    assert gateway.address is None
    await gateway.start()
    job = job_for(gateway)
    await gateway.close()
    assert gateway.address is None
    await worker.announce(job, created(job))  # dropped: nobody is there to hear it
    connection = await aio_pika.connect(broker)
    try:
        channel = await connection.channel()
        with pytest.raises(ChannelNotFoundEntity):
            await channel.declare_queue(job.reply_to or "", passive=True)
    finally:
        await connection.close()


async def test_after_a_reconnect_the_same_address_hears_outcomes_again(
    broker: str, worker: AmqpOutcomes
) -> None:
    async with FaultProxy.before(broker) as proxy:
        gateway = await started(proxy.url(broker))
        try:
            address = gateway.address
            proxy.cut()
            proxy.accept()
            async with asyncio.timeout(DEADLINE * 3):
                while True:  # announcements before the queue is declared again are dropped
                    job = job_for(gateway)
                    waiting = gateway.expect(job.id)
                    await worker.announce(job, created(job))
                    try:
                        async with asyncio.timeout(0.5):
                            assert await waiting == created(job)
                            break
                    except TimeoutError:
                        gateway.forget(job.id)
            assert gateway.address == address
            assert proxy.accepted >= 2
        finally:
            await gateway.close()
