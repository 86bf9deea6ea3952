"""Outcomes over RabbitMQ: each gateway instance has a reply queue, and a worker
publishes a job's outcome there with the job id as correlation id.

The reply queue is exclusive and auto-delete: it lives as long as the instance's
connection. Its name, the instance's `address`, is chosen once: after a reconnect the
robust channel declares it again under the same name, so jobs enqueued before the
outage still reach this instance. Outcomes announced while the queue was gone (the
broker deletes it with the connection) are dropped, unroutable; the POSTs waiting for
them fall back to their timeout and token, which the store resolves. Until the broker
notices the old connection is dead (at once on a reset, within the heartbeat on a
silent network failure) it refuses the new declaration, and the robust connection
tries again.

Announcing is best effort and unconfirmed: the outcome is already in the store.
"""

from __future__ import annotations

import asyncio
import secrets

import orjson
from aio_pika import DeliveryMode, Message
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from aiormq.exceptions import AMQPError

from gateway.logs import get_logger
from gateway.outcomes import Outcome
from gateway.queue.amqp import (
    CONNECT_DEADLINE,
    DEFAULT_PREFIX,
    DEFAULT_TIMEOUT,
    RECONNECT_INTERVAL,
)
from gateway.queue.amqp_link import connect
from gateway.queue.base import QueueUnavailable
from gateway.queue.jobs import Job

log = get_logger(__name__)

_BROKER_FAILURES = (AMQPError, OSError, RuntimeError)
"""What aio-pika raises when the link fails (builtin TimeoutError is an OSError)."""


class AmqpOutcomes:
    def __init__(
        self,
        url: str,
        *,
        name_prefix: str = DEFAULT_PREFIX,
        timeout: float = DEFAULT_TIMEOUT,
        connect_deadline: float = CONNECT_DEADLINE,
        reconnect_interval: float = RECONNECT_INTERVAL,
    ) -> None:
        self._url = url
        self._queue_name = f"{name_prefix}.outcomes.{secrets.token_hex(8)}"
        self._timeout = timeout
        self._connect_deadline = connect_deadline
        self._reconnect_interval = reconnect_interval
        # Strong references: the robust connection holds its channel weakly.
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._waiting: dict[str, asyncio.Future[Outcome]] = {}

    @property
    def address(self) -> str | None:
        return self._queue_name if self._channel is not None else None

    async def start(self) -> None:
        connection = await connect(
            self._url, deadline=self._connect_deadline, reconnect_interval=self._reconnect_interval
        )
        try:
            channel = await connection.channel(publisher_confirms=False)
            replies = await channel.declare_queue(
                self._queue_name,
                exclusive=True,
                auto_delete=True,
                arguments={"x-queue-type": "classic"},  # exclusive queues cannot be quorum
            )
            await replies.consume(self._on_reply, no_ack=True)
        except _BROKER_FAILURES as failure:
            await connection.close()
            raise QueueUnavailable(f"RabbitMQ refused the reply queue: {failure}") from None
        self._connection, self._channel = connection, channel

    async def close(self) -> None:
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()
        if self._connection is not None:
            await self._connection.close()
        self._channel = None

    def expect(self, job_id: str) -> asyncio.Future[Outcome]:
        future = asyncio.get_running_loop().create_future()
        self._waiting[job_id] = future
        return future

    def forget(self, job_id: str) -> None:
        future = self._waiting.pop(job_id, None)
        if future is not None:
            future.cancel()

    async def announce(self, job: Job, outcome: Outcome) -> None:
        """Sends the outcome to the instance waiting for it; a failure is only logged."""
        channel = self._channel
        if job.reply_to is None or channel is None:
            return
        message = Message(
            orjson.dumps(outcome),
            correlation_id=job.id,
            content_type="application/json",
            delivery_mode=DeliveryMode.NOT_PERSISTENT,
        )
        try:
            async with asyncio.timeout(self._timeout):
                await channel.default_exchange.publish(message, job.reply_to, mandatory=False)
        except _BROKER_FAILURES as failure:
            log.warning("outcome_not_announced", job_id=job.id, error=type(failure).__name__)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        job_id = message.correlation_id or ""
        future = self._waiting.get(job_id)
        if future is None:
            return  # nobody waits for it (any more)
        try:
            outcome = Outcome(**orjson.loads(message.body))
        except (orjson.JSONDecodeError, TypeError) as malformed:
            log.warning("outcome_malformed", job_id=job_id, error=type(malformed).__name__)
            return
        del self._waiting[job_id]
        if not future.done():
            future.set_result(outcome)
