"""The exchanges and queues of the RabbitMQ job queue, named from one prefix.

- `{prefix}.work`: direct exchange; routes new jobs to the work queue.
- `{prefix}.jobs`: the work queue, a quorum queue (replicated). Its delivery limit,
  dead-letter exchange and at-least-once dead-lettering are explicit, so RabbitMQ 3.x
  and 4.x behave alike (4.x would otherwise drop a message after 20 deliveries).
  At-least-once dead-lettering needs `reject-publish` overflow: a full queue nacks a
  publish instead of dropping its oldest job. The delivery limit only guards against
  a job that crashes or disconnects every worker taking it: retries counted by the
  worker go through the delay queues and never reach it.
- `{prefix}.delay.{seconds}s`: one quorum queue per backoff tier, nobody consumes
  them; a message waits out the tier's TTL, then is dead-lettered to the work
  exchange. One TTL per queue keeps each queue in expiry order (RabbitMQ expires only
  at the head). The delayed-message plugin is not used: unmaintained, not replicated.
- `{prefix}.dead` and `{prefix}.dead-letters`: the dead-letter exchange and queue.
  The dead-letter queue is a classic queue on purpose: browsing it returns messages
  to it, which a quorum queue counts as deliveries and, past its delivery limit,
  drops; a classic queue puts them back in place and has no limit. In a 4.x cluster
  classic queues are not replicated: dead letters live on one node (the store keeps
  an audit of every dead-lettered job).

Declaring is idempotent; a queue already declared with other arguments makes the
broker refuse the declaration (PRECONDITION_FAILED) rather than be changed silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractExchange

ROUTING_KEY = "job"

DELAY_TIERS = (1.0, 5.0, 30.0, 120.0, 600.0)
"""Seconds a retry waits, rounded up to the next tier: full jitter on backoffs up to
the default 5 min cap still spreads a failed burst over several tiers."""

DELIVERY_LIMIT = 20


@dataclass(frozen=True, slots=True)
class Topology:
    prefix: str = "open311"
    delay_tiers: tuple[float, ...] = DELAY_TIERS
    delivery_limit: int = DELIVERY_LIMIT
    max_length: int | None = None
    """Jobs the work queue holds at most; past it a publish is refused (503), not
    queued. None: bounded only by the broker's disk and memory alarms."""

    def __post_init__(self) -> None:
        if not self.delay_tiers or any(tier <= 0 for tier in self.delay_tiers):
            raise ValueError("delay tiers must be positive seconds")
        object.__setattr__(self, "delay_tiers", tuple(sorted(set(self.delay_tiers))))

    @property
    def work_exchange(self) -> str:
        return f"{self.prefix}.work"

    @property
    def work_queue(self) -> str:
        return f"{self.prefix}.jobs"

    @property
    def dead_exchange(self) -> str:
        return f"{self.prefix}.dead"

    @property
    def dead_queue(self) -> str:
        return f"{self.prefix}.dead-letters"

    def delay_queue(self, tier: float) -> str:
        return f"{self.prefix}.delay.{tier:g}s"

    def tier_for(self, delay_seconds: float) -> float | None:
        """The shortest tier at least `delay_seconds` long (the longest past them all);
        None when the job is ready now."""
        if delay_seconds <= 0:
            return None
        return next((t for t in self.delay_tiers if t >= delay_seconds), self.delay_tiers[-1])

    def pending_queues(self) -> list[str]:
        """Queues holding jobs not yet handed out: the work queue and the delay tiers."""
        return [self.work_queue, *map(self.delay_queue, self.delay_tiers)]

    def work_queue_arguments(self) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-exchange": self.dead_exchange,
            "x-dead-letter-routing-key": ROUTING_KEY,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
        if self.max_length is not None:
            arguments["x-max-length"] = self.max_length
        return arguments

    def delay_queue_arguments(self, tier: float) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            "x-message-ttl": round(tier * 1000),
            "x-dead-letter-exchange": self.work_exchange,
            "x-dead-letter-routing-key": ROUTING_KEY,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }

    async def declare(self, channel: AbstractChannel) -> AbstractExchange:
        """Every exchange, queue and binding; the work exchange, to publish to."""
        work = await channel.declare_exchange(self.work_exchange, ExchangeType.DIRECT, durable=True)
        dead = await channel.declare_exchange(self.dead_exchange, ExchangeType.DIRECT, durable=True)
        # Explicit: a vhost whose default queue type is quorum would make it one.
        dead_queue = await channel.declare_queue(
            self.dead_queue, durable=True, arguments={"x-queue-type": "classic"}
        )
        await dead_queue.bind(dead, ROUTING_KEY)
        for tier in self.delay_tiers:
            await channel.declare_queue(
                self.delay_queue(tier), durable=True, arguments=self.delay_queue_arguments(tier)
            )
        work_queue = await channel.declare_queue(
            self.work_queue, durable=True, arguments=self.work_queue_arguments()
        )
        await work_queue.bind(work, ROUTING_KEY)
        return work

    async def delete(self, channel: AbstractChannel) -> None:
        """Everything `declare` made, messages included: for tests and benchmarks that
        work under a throwaway prefix."""
        for queue in (self.dead_queue, *self.pending_queues()):
            await channel.queue_delete(queue)
        for exchange in (self.work_exchange, self.dead_exchange):
            await channel.exchange_delete(exchange)
