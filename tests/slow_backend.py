"""The slow-backend drill: a backend taking 2 s per create, and POSTs sent all at once.

Each POST should be answered within the jurisdiction's `sync_wait` (with a token: the
backend is slower than the wait) and delivered afterwards, exactly once. The suite runs
it small and checks the answers and deliveries; `tests/bench/bench_slow_backend.py` runs
it at the issue's size and reports how long the answers took against the bound.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from gateway.config import WorkerConfig
from gateway.runtime import Runtime

from delivery import drained
from loopback import serving
from scripted_backend import ScriptedConnector, scripted_config

CREATE_SECONDS = 2.0
API_KEY = "slow-key"
FORM = {"api_key": API_KEY, "service_code": "DOG", "lat": "51.5", "long": "-0.1"}


@dataclass(frozen=True, slots=True)
class Answer:
    seconds: float
    status: int
    body: Any


@dataclass(frozen=True, slots=True)
class Drill:
    answers: list[Answer]
    """One per POST, in the order sent."""
    references: dict[str, int]
    """How many records the backend holds per idempotency key, once the queue drained."""
    resolved: list[Any]
    """What `tokens/{t}.json` answers for the first few tokens, after delivery."""


def key(index: int) -> str:
    return f"slow-{index}"


async def _opened(session: aiohttp.ClientSession, url: str) -> None:
    async with session.get(url) as response:
        assert response.status == 200
        await asyncio.sleep(0.05)  # holds its connection while the others open theirs


async def run_drill(
    folder: Path, *, posts: int, sync_wait: float, as_the_process: bool = False
) -> Drill:
    """`posts` POSTs at once against the slow backend; needs the scripted connector
    registered (`scripted_backend.register`). `as_the_process`: see `loopback.serving`."""
    config = scripted_config(
        folder,
        API_KEY,
        worker=WorkerConfig(concurrency=posts),
        connector={"concurrency": posts, "timeout": CREATE_SECONDS * 2.5},
        sync_wait=sync_wait,
    )
    runtime = Runtime(config)
    backend = runtime.tenants.resolve("city").connector
    assert isinstance(backend, ScriptedConnector)
    backend.create_seconds = CREATE_SECONDS

    async def post(session: aiohttp.ClientSession, base: str, index: int) -> Answer:
        started = time.perf_counter()
        headers = {"Idempotency-Key": key(index)}
        async with session.post(f"{base}/requests.json", data=FORM, headers=headers) as response:
            body = await response.json()
        return Answer(time.perf_counter() - started, response.status, body)

    # One connection per POST, opened beforehand: the times are the gateway's answers,
    # not TCP handshakes made by a client sharing the gateway's event loop.
    connector = aiohttp.TCPConnector(limit=posts)
    served = serving(runtime, as_the_process=as_the_process)
    async with served as base, aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(_opened(session, f"{base}/healthz") for _ in range(posts)))
        answers = await asyncio.gather(*(post(session, base, index) for index in range(posts)))
        await drained(runtime)
        resolved = []
        for answer in answers[:5]:
            token = answer.body[0].get("token") if answer.status == 200 else None
            async with session.get(f"{base}/tokens/{token}.json") as response:
                resolved.append(await response.json())
    return Drill(list(answers), dict(backend.references()), resolved)
