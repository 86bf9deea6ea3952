"""Waiting for the worker: a request is accepted at once and delivered a little later."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gateway.runtime import Runtime

PATIENCE_SECONDS = 30.0
"""Far above any delivery in the suite: reaching it means the worker is stuck."""


async def drained(runtime: Runtime) -> None:
    """Return once the queue holds no job: each was delivered or dead-lettered."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE_SECONDS
    while await runtime.queue.depth():
        assert loop.time() < deadline, "the queue did not drain: is the worker stuck?"
        await asyncio.sleep(0.01)


async def eventually(condition: Callable[[], bool]) -> None:
    """Return once `condition()` holds, as the worker gets on with its jobs."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE_SECONDS
    while not condition():
        assert loop.time() < deadline, "the condition never held: is the worker stuck?"
        await asyncio.sleep(0.01)
