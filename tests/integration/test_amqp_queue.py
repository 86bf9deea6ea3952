"""The RabbitMQ queue on a real broker: the embedded queue's semantics where the broker
can give them, durable messages, and the topology's arguments.

Each test works under a random name prefix and deletes its exchanges and queues after.
Deliveries reach the consumer asynchronously, so tests take jobs with `take` (lease,
and wait for work while fewer arrived), bounded by a deadline instead of sleeping.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import aio_pika
import orjson
import pytest
from aio_pika import DeliveryMode
from aiormq.exceptions import ChannelPreconditionFailed

from gateway.queue import AmqpQueue, JobKind, Lease, QueueUnavailable
from gateway.queue.amqp_messages import JOB_HEADER
from gateway.queue.amqp_topology import ROUTING_KEY, Topology

from queuejobs import T0, FakeClock, new_job
from services import rabbitmq_topology, rabbitmq_url

T = TypeVar("T")
LEASE = 30.0
SHORT, LONG = 0.2, 60.0
"""Delay tiers: one a retry comes back from at once, one it stays in for the test."""
DEADLINE = 20.0
"""Seconds a delivery may take to arrive before a test gives up on it."""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def broker() -> str:
    return await rabbitmq_url()


def new_queue(url: str, clock: FakeClock, prefix: str | None = None, **options: Any) -> AmqpQueue:
    prefix = prefix or f"test-{secrets.token_hex(4)}"
    return AmqpQueue(url, name_prefix=prefix, delay_tiers=(SHORT, LONG), clock=clock, **options)


@pytest.fixture
async def queue(broker: str, clock: FakeClock) -> AsyncIterator[AmqpQueue]:
    queue = new_queue(broker, clock)
    async with rabbitmq_topology(broker, queue.topology):
        await queue.start()
        try:
            yield queue
        finally:
            await queue.close()


async def take(queue: AmqpQueue, count: int) -> list[Lease]:
    """Exactly `count` leases, waiting for deliveries as they arrive."""
    leases: list[Lease] = []
    async with asyncio.timeout(DEADLINE):
        while len(leases) < count:
            leases += await queue.lease(count - len(leases), LEASE)
            if len(leases) < count:
                await queue.wait_for_work(1.0)
    return leases


async def eventually(check: Callable[[], Awaitable[T]]) -> T:
    """The first truthy answer of `check`, asked again until one comes or DEADLINE passes."""
    async with asyncio.timeout(DEADLINE):
        while True:
            if answer := await check():
                return answer
            await asyncio.sleep(0.05)


async def ready_in(url: str, queue_name: str) -> int:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue_name, passive=True)
        return declared.declaration_result.message_count or 0
    finally:
        await connection.close()


async def test_a_leased_job_comes_back_as_it_went_in(queue: AmqpQueue, clock) -> None:
    job = new_job(
        clock,
        payload=b"\x00raw \xff bytes",
        kind=JobKind.POST_UPDATE,
        last_error="earlier failure",
        reply_to="open311.outcomes.abc",
    )
    await queue.enqueue(job)
    (lease,) = await take(queue, 1)
    assert lease.job == job
    assert lease.job.payload == job.payload
    assert lease.expires_at == T0 + timedelta(seconds=LEASE)


async def test_a_leased_job_is_hidden_from_other_leases(queue: AmqpQueue, clock) -> None:
    for key in ("a", "b", "c"):
        await queue.enqueue(new_job(clock, key))
    first = await take(queue, 2)
    second = await take(queue, 1)
    assert [lease.job.idempotency_key for lease in first] == ["a", "b"]
    assert [lease.job.idempotency_key for lease in second] == ["c"]
    assert await queue.lease(2, LEASE) == []
    assert await queue.depth() == 3


async def test_complete_removes_the_job_once(queue: AmqpQueue, clock) -> None:
    await queue.enqueue(new_job(clock))
    (lease,) = await take(queue, 1)
    assert not await queue.complete("another-job", lease.token)
    assert not await queue.complete(lease.job.id, "1.999")
    assert await queue.complete(lease.job.id, lease.token)
    assert not await queue.complete(lease.job.id, lease.token)
    assert await queue.depth() == 0


async def test_retry_waits_in_the_shortest_tier_long_enough(
    broker: str, queue: AmqpQueue, clock
) -> None:
    await queue.enqueue(new_job(clock))
    (lease,) = await take(queue, 1)
    assert await queue.retry(lease.job.id, lease.token, SHORT + 1, "backend timed out")
    assert not await queue.complete(lease.job.id, lease.token)
    assert await ready_in(broker, queue.topology.delay_queue(LONG)) == 1
    assert await queue.depth() == 1
    assert await queue.lease(10, LEASE) == []


async def test_a_retried_job_comes_back_counting_the_attempt(queue: AmqpQueue, clock) -> None:
    await queue.enqueue(new_job(clock))
    (lease,) = await take(queue, 1)
    assert await queue.retry(lease.job.id, lease.token, SHORT / 2, "backend timed out")
    (retried,) = await take(queue, 1)
    assert retried.job.id == lease.job.id
    assert retried.job.attempt == 1
    assert retried.job.not_before == T0 + timedelta(seconds=SHORT / 2)
    assert retried.job.last_error == "backend timed out"
    assert await queue.retry(retried.job.id, retried.token, 0, "again")
    (again,) = await take(queue, 1)
    assert (again.job.attempt, again.job.not_before) == (2, T0)


async def test_a_job_not_before_a_later_time_waits_in_a_delay_tier(
    broker: str, queue: AmqpQueue, clock
) -> None:
    await queue.enqueue(new_job(clock, not_before=T0 + timedelta(seconds=LONG / 2)))
    assert await ready_in(broker, queue.topology.delay_queue(LONG)) == 1
    assert await ready_in(broker, queue.topology.work_queue) == 0


def test_a_delay_takes_the_shortest_tier_at_least_as_long() -> None:
    topology = Topology("t", (30.0, 1.0, 5.0))
    assert topology.delay_tiers == (1.0, 5.0, 30.0)
    assert [topology.tier_for(d) for d in (-1, 0, 0.01, 1, 1.5, 30, 3600)] == [
        None,
        None,
        1.0,
        1.0,
        5.0,
        30.0,
        30.0,
    ]
    with pytest.raises(ValueError, match="positive"):
        Topology("t", (0.0,))


async def test_dead_letter_replay_and_discard(queue: AmqpQueue, clock) -> None:
    for key in ("a", "b"):
        await queue.enqueue(new_job(clock, key))
    first, second = await take(queue, 2)
    assert await queue.retry(first.job.id, first.token, 0, "timeout")
    (first,) = await take(queue, 1)
    assert await queue.dead_letter(first.job.id, first.token, "unknown category")
    clock.advance(1)
    assert await queue.dead_letter(second.job.id, second.token, "missing address")
    assert not await queue.dead_letter(second.job.id, second.token, "twice")
    assert await queue.depth() == 0

    letters = await queue.dead_letters(10)
    assert [letter.job.idempotency_key for letter in letters] == ["b", "a"]  # newest first
    assert [letter.job.idempotency_key for letter in await queue.dead_letters(1, 1)] == ["a"]
    letter = await queue.dead_letter_of(first.job.id)
    assert letter is not None
    assert (letter.reason, letter.dead_at, letter.job.attempt) == ("unknown category", T0, 1)
    assert letter.job.payload == first.job.payload
    assert await queue.dead_letter_of("no-such-job") is None
    assert len(await queue.dead_letters(10)) == 2, "browsing leaves the dead letters in place"

    clock.advance(1)
    assert await queue.replay(first.job.id)
    assert not await queue.replay(first.job.id)
    (replayed,) = await take(queue, 1)
    assert replayed.job.id == first.job.id
    assert (replayed.job.attempt, replayed.job.not_before) == (0, T0 + timedelta(seconds=2))
    assert replayed.job.enqueued_at == first.job.enqueued_at

    assert await queue.discard(second.job.id)
    assert not await queue.discard(second.job.id)
    assert await queue.dead_letters(10) == []


async def test_past_the_delivery_limit_the_broker_dead_letters_the_job(broker: str, clock) -> None:
    """A job whose deliveries never get settled (every worker taking it dies) ends in
    the dead letters with the broker's reason, never dropped."""
    prefix = f"test-{secrets.token_hex(4)}"
    first = new_queue(broker, clock, prefix, delivery_limit=0)
    async with rabbitmq_topology(broker, first.topology):
        await first.start()
        try:
            await first.enqueue(new_job(clock))
            await take(first, 1)
        finally:
            await first.close()  # the delivery goes back unsettled: its delivery count is spent
        second = new_queue(broker, clock, prefix, delivery_limit=0)
        await second.start()
        try:
            (letter,) = await eventually(lambda: second.dead_letters(10))
            assert letter.reason.startswith("dead-lettered by the broker: ")
            assert await second.replay(letter.job.id)
        finally:
            await second.close()


async def test_depth_counts_ready_delayed_and_held_jobs(queue: AmqpQueue, clock) -> None:
    for key in ("a", "b", "c"):
        await queue.enqueue(new_job(clock, key))
    a, _ = await take(queue, 2)
    assert await queue.retry(a.job.id, a.token, LONG, "timeout")
    assert await queue.depth() == 3


async def test_wait_for_work_wakes_on_a_delivery(queue: AmqpQueue, clock) -> None:
    assert await queue.lease(1, LEASE) == []
    assert not await queue.wait_for_work(0.01)
    waiting = asyncio.create_task(queue.wait_for_work(DEADLINE))
    await queue.enqueue(new_job(clock))
    assert await waiting
    assert len(await queue.lease(1, LEASE)) == 1


async def test_two_queues_on_one_topology_never_lease_a_job_twice(broker: str, clock) -> None:
    """As a gateway and a separate worker process would: each with its own connection."""
    prefix = f"test-{secrets.token_hex(4)}"
    queues = [new_queue(broker, clock, prefix, prefetch=5) for _ in range(2)]
    async with rabbitmq_topology(broker, queues[0].topology):
        for queue in queues:
            await queue.start()
        try:
            await asyncio.gather(*(queues[0].enqueue(new_job(clock, f"k{i}")) for i in range(100)))

            taken: list[str] = []

            async def drain(queue: AmqpQueue) -> None:
                while len(taken) < 100:
                    for lease in await queue.lease(7, LEASE):
                        taken.append(lease.job.id)
                        assert await queue.complete(lease.job.id, lease.token)
                    await queue.wait_for_work(0.05)

            async with asyncio.timeout(DEADLINE):
                await asyncio.gather(*(drain(queue) for queue in queues))
            assert len(taken) == len(set(taken)) == 100
        finally:
            for queue in queues:
                await queue.close()


async def test_a_job_a_closed_consumer_held_comes_back_as_a_redelivery(broker: str, clock) -> None:
    """The worker that held it is gone: the next one asks the backend before creating."""
    prefix = f"test-{secrets.token_hex(4)}"
    crashed, next_worker = new_queue(broker, clock, prefix), new_queue(broker, clock, prefix)
    async with rabbitmq_topology(broker, crashed.topology):
        await crashed.start()
        await next_worker.start()
        try:
            await crashed.enqueue(new_job(clock))
            (held,) = await take(crashed, 1)
            assert not held.redelivered
            await crashed.close()
            (again,) = await take(next_worker, 1)
            assert again.job.id == held.job.id and again.redelivered
        finally:
            await next_worker.close()


async def test_only_a_process_that_leases_holds_jobs(broker: str, clock) -> None:
    """A gateway without a worker (or the CLI) enqueues but never takes jobs from others."""
    prefix = f"test-{secrets.token_hex(4)}"
    gateway, worker = new_queue(broker, clock, prefix), new_queue(broker, clock, prefix)
    async with rabbitmq_topology(broker, gateway.topology):
        await gateway.start()
        await worker.start()
        try:
            await asyncio.gather(*(gateway.enqueue(new_job(clock, f"k{i}")) for i in range(5)))
            assert len(await take(worker, 5)) == 5
            assert await gateway.depth() == 0  # the broker's ready count: all are with the worker
        finally:
            await gateway.close()
            await worker.close()


async def test_messages_are_persistent_and_carry_the_job_in_headers(broker: str, clock) -> None:
    queue = new_queue(broker, clock)
    async with rabbitmq_topology(broker, queue.topology):
        await queue.start()
        job = new_job(clock, reply_to="open311.outcomes.abc")
        try:
            await queue.enqueue(job)
        finally:
            await queue.close()
        connection = await aio_pika.connect(broker)
        try:
            channel = await connection.channel()
            work = await channel.get_queue(queue.topology.work_queue)
            message = await work.get(timeout=5)
            await message.reject(requeue=True)
        finally:
            await connection.close()
    assert message.delivery_mode == DeliveryMode.PERSISTENT
    assert (message.message_id, message.body) == (job.id, job.payload)
    fields = orjson.loads(message.headers[JOB_HEADER])
    assert fields["idempotency_key"] == "key-1"
    assert fields["reply_to"] == "open311.outcomes.abc"
    assert fields["not_before"] == T0.isoformat()


async def test_the_work_queue_is_a_quorum_queue_that_dead_letters_explicitly(
    queue: AmqpQueue, broker: str
) -> None:
    """Declaring a queue again with other arguments fails: the broker holds these."""
    topology = queue.topology
    expected = {
        topology.work_queue: topology.work_queue_arguments(),
        topology.delay_queue(SHORT): topology.delay_queue_arguments(SHORT),
        topology.dead_queue: {"x-queue-type": "classic"},
    }
    assert expected[topology.work_queue] == {
        "x-queue-type": "quorum",
        "x-delivery-limit": 20,
        "x-dead-letter-exchange": topology.dead_exchange,
        "x-dead-letter-routing-key": ROUTING_KEY,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    assert expected[topology.delay_queue(SHORT)]["x-message-ttl"] == 200
    connection = await aio_pika.connect(broker)
    try:
        for name, arguments in expected.items():
            channel = await connection.channel()
            await channel.declare_queue(name, durable=True, arguments=arguments)
            with pytest.raises(ChannelPreconditionFailed):
                changed = {**arguments, "x-queue-type": "stream"}
                await channel.declare_queue(name, durable=True, arguments=changed)
    finally:
        await connection.close()


async def test_a_full_queue_refuses_the_job(broker: str, clock) -> None:
    """Quorum queues apply `x-max-length` loosely: one or two more may get in first."""
    queue = new_queue(broker, clock, max_length=1)
    async with rabbitmq_topology(broker, queue.topology):
        await queue.start()
        try:
            accepted = 0
            with pytest.raises(QueueUnavailable, match="nack"):
                for index in range(10):
                    await queue.enqueue(new_job(clock, f"k{index}"))
                    accepted += 1
            assert 1 <= accepted < 10
            assert await queue.depth() == accepted
        finally:
            await queue.close()


async def test_an_unroutable_retry_raises_and_keeps_the_lease(
    broker: str, queue: AmqpQueue, clock
) -> None:
    connection = await aio_pika.connect(broker)
    try:
        channel = await connection.channel()
        await channel.queue_delete(queue.topology.delay_queue(LONG))
    finally:
        await connection.close()
    await queue.enqueue(new_job(clock))
    (lease,) = await take(queue, 1)
    with pytest.raises(QueueUnavailable, match="route"):
        await queue.retry(lease.job.id, lease.token, LONG, "timeout")
    assert await queue.complete(lease.job.id, lease.token)


async def test_a_malformed_message_goes_to_the_dead_letter_queue(
    broker: str, queue: AmqpQueue, clock
) -> None:
    connection = await aio_pika.connect(broker)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(queue.topology.work_exchange)
        await exchange.publish(aio_pika.Message(b"not a job"), ROUTING_KEY)
    finally:
        await connection.close()
    await queue.enqueue(new_job(clock))
    (lease,) = await take(queue, 1)
    assert lease.job.idempotency_key == "key-1"
    assert await eventually(lambda: ready_in(broker, queue.topology.dead_queue)) == 1
    assert await queue.dead_letters(10) == []  # listed only when it is a job


async def test_an_unstarted_or_closed_queue_is_unavailable(broker: str, clock) -> None:
    queue = new_queue(broker, clock)
    with pytest.raises(QueueUnavailable, match="not started"):
        await queue.enqueue(new_job(clock))
    async with rabbitmq_topology(broker, queue.topology):
        await queue.start()
        await queue.close()
        with pytest.raises(QueueUnavailable, match="closing"):
            await queue.enqueue(new_job(clock))


async def test_close_waits_for_the_publishes_under_way(broker: str, clock) -> None:
    queue = new_queue(broker, clock)
    async with rabbitmq_topology(broker, queue.topology):
        await queue.start()
        pending = [asyncio.create_task(queue.enqueue(new_job(clock, f"k{i}"))) for i in range(5)]
        await asyncio.sleep(0)
        await queue.close()
        await asyncio.gather(*pending)
        assert await ready_in(broker, queue.topology.work_queue) == 5


async def test_a_broker_that_never_answers_fails_the_start_in_bounded_time(clock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    queue = AmqpQueue(
        f"amqp://guest:secret-password@127.0.0.1:{port}/",
        connect_deadline=0.5,
        reconnect_interval=0.1,
    )
    with pytest.raises(QueueUnavailable, match="unreachable") as raised:
        await queue.start()
    assert "secret-password" not in str(raised.value)
    assert f"127.0.0.1:{port}" in str(raised.value)
