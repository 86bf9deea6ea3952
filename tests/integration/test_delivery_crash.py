"""SIGKILL drill of the whole delivery path: a gateway (`open311-gateway serve`, embedded
queue, SQL backend on SQLite, `worker.mode: external`) and a worker
(`open311-gateway worker`) run as separate processes while a client POSTs a burst with
Idempotency-Keys, retrying each request until it gets a 2xx. The worker, then the
gateway, are killed at random moments (seeded) and restarted. At the end every
request that got a 2xx is in the backend exactly once, and nothing else is.

`OPEN311_DRILL_SIZE` sets the number of worker kills (default 2; the gateway is killed
half as often, at least once); `OPEN311_DRILL_SEED` picks the moments.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path

import aiohttp
from children import free_port

from gateway.queue import EmbeddedQueue
from mappings import mapping_path

KILLS = int(os.environ.get("OPEN311_DRILL_SIZE", "2"))
SEED = int(os.environ.get("OPEN311_DRILL_SEED", "311"))
REQUESTS = 40 + 40 * KILLS
CLIENTS = 16
API_KEY = "drill-key"
START_SECONDS = 60.0
"""A process that does not answer within this failed to start: the drill fails."""
DRAIN_SECONDS = 120.0

CONFIG = """\
gateway:
  store_url: sqlite:///data/gateway.db
  worker:
    mode: external
    lease_seconds: 4.5          # the longest delivery with a 0.5 s timeout is 4 s
    poll_seconds: 0.05
    backoff: {{base_seconds: 0.05, cap_seconds: 0.5, max_attempts: 1000}}
jurisdictions:
  - id: example.city
    mapping: {mapping}
    api_key_env: OPEN311_API_KEY
    sync_wait: 0.3
    connector:
      timeout: 0.5
      settings:
        url: sqlite:///data/tickets.db
        create_schema: true
"""

FORM = {
    "api_key": API_KEY,
    "service_code": "DOG",
    "lat": "51.5072",
    "long": "-0.1276",
    "description": "Reported during a drill",
}


class Drill:
    """The two processes, each restartable; their output goes to files in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = folder / "gateway.yaml"
        self.config.write_text(CONFIG.format(mapping=mapping_path("embedded.yaml")))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.gateway: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self._runs = Counter[str]()

    def start(self, name: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "gateway", name, "--config", str(self.config)]
        if name == "serve":
            command += ["--port", str(self.port)]
        self._runs[name] += 1
        log = self.folder / f"{name}-{self._runs[name]}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=os.environ | {"OPEN311_API_KEY": API_KEY},
            )
        if name == "serve":
            self.gateway = process
        else:
            self.worker = process
        return process

    def kill(self, process: subprocess.Popen[bytes] | None) -> None:
        assert process is not None and process.poll() is None, self.logs()
        process.send_signal(signal.SIGKILL)
        process.wait()

    def logs(self) -> str:
        tails = []
        for log in sorted(self.folder.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-15:]
            tails.append(f"--- {log.name}\n" + "\n".join(lines))
        return "\n".join(tails)

    @contextmanager
    def running(self) -> Iterator[None]:
        try:
            yield
        finally:
            for process in (self.gateway, self.worker):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait()


async def healthy(session: aiohttp.ClientSession, drill: Drill) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_SECONDS
    while True:
        assert drill.gateway is not None and drill.gateway.poll() is None, drill.logs()
        with suppress(aiohttp.ClientError):
            async with session.get(f"{drill.base}/healthz") as response:
                if response.status == 200:
                    return
        assert loop.time() < deadline, f"the gateway did not start\n{drill.logs()}"
        await asyncio.sleep(0.1)


async def post_until_accepted(
    session: aiohttp.ClientSession, drill: Drill, key: str, accepted: set[str]
) -> None:
    """As a careful client does: the same key again until the gateway answers 2xx."""
    while True:
        try:
            async with session.post(
                f"{drill.base}/requests.json", data=FORM, headers={"Idempotency-Key": key}
            ) as response:
                body = await response.text()
                if 200 <= response.status < 300:
                    accepted.add(key)
                    return
                assert response.status == 503, f"{response.status}: {body}"
        except (TimeoutError, aiohttp.ClientError):
            pass  # the gateway is down or was killed mid-request: ask again
        await asyncio.sleep(0.05)


async def burst(session: aiohttp.ClientSession, drill: Drill, keys: list[str]) -> set[str]:
    accepted: set[str] = set()
    pending = iter(keys)

    async def client() -> None:
        for key in pending:
            await post_until_accepted(session, drill, key, accepted)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return accepted


async def chaos(session: aiohttp.ClientSession, drill: Drill, rng: random.Random) -> None:
    """Kill the worker KILLS times, the gateway at least once, at random moments."""
    victims = ["worker"] * KILLS + ["serve"] * max(1, KILLS // 2)
    for name in victims:
        await asyncio.sleep(rng.uniform(0.3, 1.5))
        if name == "worker":
            drill.kill(drill.worker)
            drill.start("worker")
        else:
            drill.kill(drill.gateway)
            drill.start("serve")
            await healthy(session, drill)


async def drained(drill: Drill) -> None:
    queue = EmbeddedQueue(drill.folder / "data" / "queue.db")
    await queue.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_SECONDS
        while await queue.depth():
            assert drill.worker is not None and drill.worker.poll() is None, drill.logs()
            assert loop.time() < deadline, f"the queue did not drain\n{drill.logs()}"
            await asyncio.sleep(0.1)
        assert await queue.dead_letters(10) == [], "a drill job was dead-lettered"
    finally:
        await queue.close()


def tickets_by_key(folder: Path) -> Counter[str]:
    with sqlite3.connect(folder / "data" / "tickets.db") as connection:
        rows = connection.execute("SELECT external_ref FROM tickets").fetchall()
    return Counter(reference for (reference,) in rows)


@asynccontextmanager
async def client_session() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield session


async def test_every_accepted_request_is_delivered_exactly_once_across_sigkills(
    tmp_path: Path,
) -> None:
    drill = Drill(tmp_path)
    rng = random.Random(SEED)
    keys = [f"drill-{index}" for index in range(REQUESTS)]
    with drill.running():
        drill.start("serve")
        drill.start("worker")
        async with client_session() as session:
            await healthy(session, drill)
            accepted, _ = await asyncio.gather(
                burst(session, drill, keys), chaos(session, drill, rng)
            )
        await drained(drill)
    assert accepted == set(keys)
    delivered = tickets_by_key(tmp_path)
    assert delivered == Counter({f"header:{key}": 1 for key in accepted}), drill.logs()


async def test_a_worker_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    drill = Drill(tmp_path)
    with drill.running():
        worker = drill.start("worker")
        log = tmp_path / "worker-1.log"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_SECONDS
        while b"worker_started" not in log.read_bytes():
            assert worker.poll() is None and loop.time() < deadline, drill.logs()
            await asyncio.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, START_SECONDS) == 0
    assert b"worker_stopped" in log.read_bytes()
