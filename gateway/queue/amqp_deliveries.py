"""The deliveries a RabbitMQ consumer holds: ready to lease, or leased and unsettled.

A lease token names one delivery: the channel generation and the delivery tag. Delivery
tags count per channel, and after a reconnect the broker redelivers every unsettled
message on the new channel; the old deliveries can no longer be acknowledged. So the
first delivery on a new channel starts a new generation and forgets the old ones:
their tokens settle nothing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from aio_pika.abc import AbstractIncomingMessage
from aiormq.abc import AbstractChannel
from aiormq.exceptions import ChannelInvalidStateError

from gateway.queue.jobs import Job


@dataclass(frozen=True, slots=True)
class Delivery:
    message: AbstractIncomingMessage
    job: Job

    @property
    def settleable(self) -> bool:
        """Its channel is still open: an ack can still reach the broker."""
        try:
            return not self.message.channel.is_closed  # aio-pika raises once it closed
        except ChannelInvalidStateError:
            return False


class Deliveries:
    def __init__(self) -> None:
        self._generation = 0
        self._channel: AbstractChannel | None = None
        self._ready: deque[Delivery] = deque()
        self._leased: dict[str, Delivery] = {}

    def arrived(self, delivery: Delivery) -> None:
        channel = delivery.message.channel
        if channel is not self._channel:
            self._channel = channel
            self._generation += 1
            self._ready.clear()
            self._leased.clear()
        self._ready.append(delivery)

    def take(self, limit: int) -> list[tuple[str, Delivery]]:
        """Up to `limit` ready deliveries, in arrival order, now leased: (token, delivery)."""
        taken: list[tuple[str, Delivery]] = []
        while self._ready and len(taken) < limit:
            delivery = self._ready.popleft()
            if delivery.settleable:
                token = f"{self._generation}.{delivery.message.delivery_tag}"
                self._leased[token] = delivery
                taken.append((token, delivery))
        return taken

    def claim(self, job_id: str, token: str) -> Delivery | None:
        """The leased delivery, no longer leased: only one settling takes it."""
        delivery = self._leased.get(token)
        if delivery is None or delivery.job.id != job_id:
            return None
        del self._leased[token]
        return delivery if delivery.settleable else None

    def release(self, token: str, delivery: Delivery) -> None:
        """A claimed delivery leased again, its settling having failed before the ack."""
        if delivery.settleable and token.startswith(f"{self._generation}."):
            self._leased[token] = delivery

    def unsettled(self) -> int:
        return len(self._ready) + len(self._leased)
