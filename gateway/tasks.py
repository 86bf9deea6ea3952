"""Background tasks that run until the part owning them closes, and how they wait."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

Sleep = Callable[[float], Awaitable[None]]
"""`asyncio.sleep`, or what a test drives the waits with."""

JITTER = 0.1
"""Each wait is give or take this fraction, so that gateways started together do not
all call a backend at the same moment."""


def jittered(seconds: float, draw: Callable[[], float]) -> float:
    """`seconds` give or take `JITTER` of it; `draw` is `random.random` or a test's."""
    return seconds * (1 + JITTER * (2 * draw() - 1))


async def cancelled(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` (if any) and return once it has finished."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
