"""The RabbitMQ queue (aio-pika), for several gateway and worker processes.

Exchanges and queues are in `amqp_topology`. How the `JobQueue` interface maps onto
the broker, and where it cannot:

- `enqueue` publishes a persistent message, mandatory (an unroutable one raises, it
  does not vanish), and returns only once the broker confirmed it, within `timeout`.
  A nack (a full queue), a return, a lost connection or a missing confirm raise
  `QueueUnavailable`: the POST gets 503, never 2xx. During an outage a publish fails
  at once; nothing is buffered or replayed by the client.
- `lease` hands out what the broker delivered to this process's consumer (manual ack,
  `prefetch` deliveries at most), which the first `lease` starts. The broker cannot
  hide a job for `lease_seconds`: an unsettled delivery goes to another consumer only
  when this process's connection drops or after RabbitMQ's consumer timeout (30 min by
  default), so `prefetch` times the worst-case backend time must stay well below that
  timeout. After a reconnect the broker redelivers, and the old lease tokens settle
  nothing.
- `complete` acks. `retry` publishes a copy with `attempt` one higher to the delay
  tier whose TTL is the shortest at least `delay_seconds` (a confirmed publish), and
  only then acks the original: the attempt counter is ours, as RabbitMQ 4 ignores
  `x-death` on a republished message. `dead_letter` likewise publishes to the
  dead-letter queue with the reason, then acks. If the connection drops between the
  publish and the ack, the job exists twice; the idempotency key makes the second
  delivery find the first one's record.
- `depth` counts the ready messages of the work queue and the delay queues, plus the
  deliveries this process holds; deliveries held by other consumers are not counted.
- Dead letters are browsed by taking every message of the dead-letter queue unacked
  (basic.get) and closing the channel, which puts back all that were not acked. A
  browse reads the whole queue (it is meant to stay small), and two browses at once
  see each other's messages as missing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aio_pika import Message
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from aiormq.exceptions import AMQPError, DeliveryError, PublishError

from gateway.logs import get_logger
from gateway.queue.amqp_deliveries import Deliveries, Delivery
from gateway.queue.amqp_link import connect, where
from gateway.queue.amqp_messages import dead_letter_of, job_message, job_of
from gateway.queue.amqp_topology import DELAY_TIERS, DELIVERY_LIMIT, ROUTING_KEY, Topology
from gateway.queue.base import QueueUnavailable
from gateway.queue.jobs import DeadLetter, Job, Lease

log = get_logger(__name__)

DEFAULT_PREFIX = "open311"
"""The start of every exchange and queue name of a topology."""
DEFAULT_PREFETCH = 32
"""Deliveries a consumer holds at most: about the backend's concurrency limit."""

DEFAULT_TIMEOUT = 5.0
"""Seconds a broker operation (a publish and its confirm, a declare, a get) may take."""

CONNECT_DEADLINE = 30.0
RECONNECT_INTERVAL = 1.0

_BROKER_FAILURES = (AMQPError, ConnectionError, RuntimeError, TimeoutError)
"""What aio-pika raises when the link fails mid-operation (RuntimeError: on a closed
connection; builtin TimeoutError: our bound expired)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _Operations:
    """Counts the operations under way. A plain class, not a generator-based async
    context manager: it wraps every enqueue, on the POST's hot path."""

    def __init__(self) -> None:
        self._count = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def __enter__(self) -> None:
        self._count += 1
        self.idle.clear()

    def __exit__(self, *_: object) -> None:
        self._count -= 1
        if not self._count:
            self.idle.set()


class AmqpQueue:
    def __init__(
        self,
        url: str,
        *,
        name_prefix: str = DEFAULT_PREFIX,
        prefetch: int = DEFAULT_PREFETCH,
        delay_tiers: tuple[float, ...] = DELAY_TIERS,
        delivery_limit: int = DELIVERY_LIMIT,
        max_length: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connect_deadline: float = CONNECT_DEADLINE,
        reconnect_interval: float = RECONNECT_INTERVAL,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if prefetch < 1:
            raise ValueError("prefetch must be at least 1")
        self.topology = Topology(name_prefix, delay_tiers, delivery_limit, max_length)
        self._url = url
        self._prefetch = prefetch
        self._timeout = timeout
        self._connect_deadline = connect_deadline
        self._reconnect_interval = reconnect_interval
        self._clock = clock
        # Strong references: the robust connection holds its channels weakly.
        self._connection: AbstractRobustConnection | None = None
        self._publisher: AbstractRobustChannel | None = None
        self._consumer: AbstractRobustChannel | None = None
        self._work_exchange: AbstractExchange | None = None
        self._deliveries = Deliveries()
        self._consumer_started = asyncio.Lock()
        self._work_arrived = asyncio.Event()
        self._operations = _Operations()
        self._closing = False

    async def start(self) -> None:
        connection = await connect(
            self._url, deadline=self._connect_deadline, reconnect_interval=self._reconnect_interval
        )
        try:
            publisher = await connection.channel(publisher_confirms=True, on_return_raises=True)
            self._work_exchange = await self.topology.declare(publisher)
        except _BROKER_FAILURES as failure:
            await connection.close()
            raise QueueUnavailable(
                f"RabbitMQ at {where(self._url)} refused the queue's set-up: {failure}"
            ) from None
        self._connection, self._publisher = connection, publisher

    async def close(self) -> None:
        """Waits for the operations under way, then closes the connection: deliveries
        still held go back to the broker, which hands them to another consumer."""
        self._closing = True
        await self._operations.idle.wait()
        if self._connection is not None:
            await self._connection.close()

    async def enqueue(self, job: Job) -> None:
        with self._operation():
            await self._publish(job)

    async def lease(self, limit: int, lease_seconds: float) -> list[Lease]:
        if limit < 1 or lease_seconds <= 0:
            raise ValueError("lease needs limit >= 1 and lease_seconds > 0")
        with self._operation():
            await self._consuming()
            self._work_arrived.clear()
            expires_at = self._clock() + timedelta(seconds=lease_seconds)
            return [
                Lease(delivery.job, token, expires_at, redelivered=delivery.message.redelivered)
                for token, delivery in self._deliveries.take(limit)
            ]

    async def complete(self, job_id: str, lease_token: str) -> bool:
        with self._operation():
            delivery = self._deliveries.claim(job_id, lease_token)
            return delivery is not None and await _acked(delivery)

    async def retry(self, job_id: str, lease_token: str, delay_seconds: float, reason: str) -> bool:
        with self._operation():
            delivery = self._deliveries.claim(job_id, lease_token)
            if delivery is None:
                return False
            ready_at = self._clock() + timedelta(seconds=max(0.0, delay_seconds))
            again = replace(
                delivery.job,
                attempt=delivery.job.attempt + 1,
                not_before=ready_at,
                last_error=reason,
            )
            return await self._move(lease_token, delivery, self._publish(again))

    async def dead_letter(self, job_id: str, lease_token: str, reason: str) -> bool:
        with self._operation():
            delivery = self._deliveries.claim(job_id, lease_token)
            if delivery is None:
                return False
            dead = self._publish_dead_letter(delivery.job, reason)
            return await self._move(lease_token, delivery, dead)

    async def ping(self) -> None:
        """A passive declare of each pending queue: what `depth` does, one call per queue."""
        await self.depth()

    async def depth(self) -> int:
        with self._operation():
            channel = self._usable_publisher()
            ready = 0
            try:
                async with asyncio.timeout(self._timeout):
                    underlay = await channel.get_underlay_channel()
                    for name in self.topology.pending_queues():
                        declared = await underlay.queue_declare(name, passive=True)
                        ready += declared.message_count or 0
            except _BROKER_FAILURES as failure:
                raise _unavailable("counting jobs", failure) from None
            return ready + self._deliveries.unsettled()

    async def dead_letters(self, limit: int, offset: int = 0) -> list[DeadLetter]:
        with self._operation():
            async with self._browse_dead_letters() as letters:
                newest_first = sorted(
                    (letter for _, letter in letters),
                    key=lambda letter: (-letter.dead_at.timestamp(), letter.job.id),
                )
                return newest_first[offset : offset + limit]

    async def dead_letter_of(self, job_id: str) -> DeadLetter | None:
        with self._operation():
            async with self._browse_dead_letters() as letters:
                return next((letter for _, letter in letters if letter.job.id == job_id), None)

    async def replay(self, job_id: str) -> bool:
        with self._operation():
            async with self._browse_dead_letters() as letters:
                found = next((pair for pair in letters if pair[1].job.id == job_id), None)
                if found is None:
                    return False
                message, letter = found
                await self._publish(replace(letter.job, attempt=0, not_before=self._clock()))
                await _remove_dead_letter(message)
                return True

    async def discard(self, job_id: str) -> bool:
        with self._operation():
            async with self._browse_dead_letters() as letters:
                found = next(
                    (message for message, letter in letters if letter.job.id == job_id), None
                )
                if found is None:
                    return False
                await _remove_dead_letter(found)
                return True

    async def wait_for_work(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self._work_arrived.wait()
        except TimeoutError:
            return False
        return True

    async def _consuming(self) -> None:
        """Starts the consumer with the first lease: a process that only enqueues (a
        gateway without a worker, the CLI) never holds jobs it would not deliver."""
        async with self._consumer_started:
            if self._consumer is not None:
                return
            assert self._connection is not None
            channel = self._connection.channel()
            try:
                async with asyncio.timeout(self._timeout):
                    await channel.initialize()
                    await channel.set_qos(prefetch_count=self._prefetch)
                    work_queue = await channel.declare_queue(
                        self.topology.work_queue,
                        durable=True,
                        arguments=self.topology.work_queue_arguments(),
                    )
                    await work_queue.consume(self._on_delivery)
            except _BROKER_FAILURES as failure:
                await asyncio.shield(channel.close())
                raise _unavailable("starting the consumer", failure) from None
            self._consumer = channel

    async def _on_delivery(self, message: AbstractIncomingMessage) -> None:
        try:
            job = job_of(message)
        except ValueError as malformed:
            # Not ours: the work queue's dead-letter exchange takes it to the dead letters.
            log.warning(
                "queue_message_malformed", queue=self.topology.work_queue, error=str(malformed)
            )
            await message.reject(requeue=False)
            return
        self._deliveries.arrived(Delivery(message, job))
        self._work_arrived.set()

    def _operation(self) -> _Operations:
        """Entered around every operation, so that `close` can wait for those under way."""
        if self._connection is None:
            raise QueueUnavailable("the RabbitMQ queue is not started")
        if self._closing:
            raise QueueUnavailable("the RabbitMQ queue is closing")
        return self._operations

    def _usable_publisher(self) -> AbstractRobustChannel:
        """The publishing channel, or QueueUnavailable at once while the link is down."""
        connection, channel = self._connection, self._publisher
        if connection is None or channel is None or not connection.connected.is_set():
            raise QueueUnavailable(f"RabbitMQ at {where(self._url)}: connection lost, reconnecting")
        if channel.is_closed:
            raise QueueUnavailable(f"RabbitMQ at {where(self._url)}: channel closed, reopening")
        return channel

    async def _publish(self, job: Job) -> None:
        """To the work exchange, or to the delay tier that holds it until `not_before`."""
        channel = self._usable_publisher()
        tier = self.topology.tier_for((job.not_before - self._clock()).total_seconds())
        if tier is None:
            await self._confirmed(self._work_exchange, ROUTING_KEY, job_message(job))
        else:
            exchange = channel.default_exchange
            await self._confirmed(exchange, self.topology.delay_queue(tier), job_message(job))

    async def _publish_dead_letter(self, job: Job, reason: str) -> None:
        channel = self._usable_publisher()
        message = job_message(job, dead_reason=reason, dead_at=self._clock())
        await self._confirmed(channel.default_exchange, self.topology.dead_queue, message)

    async def _confirmed(
        self, exchange: AbstractExchange | None, key: str, message: Message
    ) -> None:
        """Published and confirmed within `timeout`, or QueueUnavailable."""
        if exchange is None:
            raise QueueUnavailable("the RabbitMQ queue is not started")
        try:
            async with asyncio.timeout(self._timeout):
                await exchange.publish(message, key, mandatory=True)
        except PublishError:
            raise QueueUnavailable(f"RabbitMQ could not route the job to '{key}'") from None
        except DeliveryError:
            raise QueueUnavailable("RabbitMQ refused the job (nack): is the queue full?") from None
        except TimeoutError:
            raise QueueUnavailable(f"no confirm from RabbitMQ within {self._timeout:g} s") from None
        except asyncio.CancelledError:
            # Some aiormq releases cancel the confirms still awaited when the link drops:
            # unless this task itself is being cancelled, that is a lost link.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            raise _unavailable("publishing", ConnectionError("connection lost")) from None
        except _BROKER_FAILURES as failure:
            raise _unavailable("publishing", failure) from None

    async def _move(self, token: str, delivery: Delivery, publish: Awaitable[None]) -> bool:
        """Publishes the job's next home, then acks the delivery; a failed publish
        leaves the delivery leased, as if the settling was never tried."""
        try:
            await publish
        except QueueUnavailable:
            self._deliveries.release(token, delivery)
            raise
        return await _acked(delivery)

    @asynccontextmanager
    async def _browse_dead_letters(
        self,
    ) -> AsyncIterator[list[tuple[AbstractIncomingMessage, DeadLetter]]]:
        """Every dead letter, held unacked on a channel of its own; closing the channel
        puts back each one not acked meanwhile."""
        self._usable_publisher()
        assert self._connection is not None
        letters: list[tuple[AbstractIncomingMessage, DeadLetter]] = []
        try:
            async with self._connection.channel(publisher_confirms=False) as channel:
                queue = await channel.get_queue(self.topology.dead_queue, ensure=False)
                while message := await queue.get(no_ack=False, fail=False, timeout=self._timeout):
                    try:
                        letters.append((message, dead_letter_of(message)))
                    except ValueError as malformed:
                        log.warning(
                            "dead_letter_malformed",
                            queue=self.topology.dead_queue,
                            error=str(malformed),
                        )
                yield letters
        except _BROKER_FAILURES as failure:
            raise _unavailable("reading the dead letters", failure) from None


async def _acked(delivery: Delivery) -> bool:
    """False when the delivery's channel is gone: the broker hands the job out again."""
    try:
        await delivery.message.ack()
    except _BROKER_FAILURES:
        return False
    return True


async def _remove_dead_letter(message: AbstractIncomingMessage) -> None:
    try:
        await message.ack()
    except _BROKER_FAILURES as failure:
        raise _unavailable("removing the dead letter", failure) from None


def _unavailable(doing: str, failure: BaseException) -> QueueUnavailable:
    return QueueUnavailable(f"RabbitMQ failed while {doing} ({type(failure).__name__})")
