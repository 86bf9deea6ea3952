"""One robust connection to RabbitMQ, opened with a bounded retry.

Once connected, aio-pika's robust connection reconnects by itself and restores its
channels, exchanges, queues and consumers. Its first attempt, though, fails at once:
a gateway started beside a broker that is still booting retries here, every
`reconnect_interval` seconds for at most `deadline` seconds, then gives up.
"""

from __future__ import annotations

import asyncio

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from aiormq.exceptions import AMQPError
from yarl import URL

from gateway.queue.base import QueueUnavailable


def where(url: str) -> str:
    """The broker's host and port, for messages: a URL's credentials never leave it."""
    parsed = URL(url)
    return f"{parsed.host}:{parsed.port}"


async def connect(
    url: str, *, deadline: float, reconnect_interval: float
) -> AbstractRobustConnection:
    """A robust connection; QueueUnavailable when the broker did not answer in time."""
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + deadline
    while True:
        attempt_timeout = max(0.1, min(reconnect_interval * 4, give_up_at - loop.time()))
        try:
            return await aio_pika.connect_robust(
                url, timeout=attempt_timeout, reconnect_interval=reconnect_interval
            )
        except (OSError, AMQPError) as failure:
            if loop.time() + reconnect_interval >= give_up_at:
                raise QueueUnavailable(
                    f"RabbitMQ at {where(url)} unreachable for {deadline:g} s "
                    f"({type(failure).__name__})"
                ) from None
        await asyncio.sleep(reconnect_interval)
