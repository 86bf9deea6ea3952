"""Creates per second through the gateway against the Salesforce simulator, and the event
loop's lag with simple-salesforce on a bounded thread pool versus on the loop itself.

The simulator runs in a process of its own (`open311-gateway simulate salesforce`, TLS
on loopback, `--latency` added to every API call as a remote org would), so its work
does not share this process's interpreter. The gateway (embedded queue and store on
SQLite, the worker in-process) serves on a loopback port in this process with the
example mapping. For each row, clients POST realtime requests (each with its own
Idempotency-Key) and wait for the Case's id; meanwhile a ticker on the gateway's event
loop measures how late each 10 ms sleep wakes (the loop's lag), and the connector's
Salesforce requests in flight are counted (busy threads).

Rows: `threads N` is the connector's pool bound; `inline` calls simple-salesforce on the
event loop itself, as a connector without threads would: every request then stalls the
loop, and with it every other client of the gateway.

Run:  python tests/bench/bench_salesforce.py                     # 300 creates per row
      python tests/bench/bench_salesforce.py --requests 60 --threads 1,8   # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.salesforce.client import Client
from connectors.salesforce.connector import SalesforceConnector
from gateway import logs
from gateway.config import Config, WorkerConfig
from gateway.runtime import Runtime

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the suite's Salesforce helpers

from loopback import serving  # noqa: E402
from salesforce_backend import gateway_config  # noqa: E402

API_KEY = "bench-key"
FORM = {
    "api_key": API_KEY,
    "service_code": "Graffiti",
    "lat": "51.5072",
    "long": "-0.1276",
    "address_string": "1 High Street",
    "description": "Tags on the bus shelter",
}
TICK = 0.01
START_SECONDS = 30.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="creates per row")
    parser.add_argument("--clients", type=int, default=64, help="POSTs in flight at once")
    parser.add_argument(
        "--threads", default="1,4,16,64", help="pool bounds to measure, comma-separated"
    )
    parser.add_argument("--latency", type=float, default=0.02, help="simulator s per call")
    parser.add_argument("--no-inline", action="store_true", help="skip the inline row")
    args = parser.parse_args(argv)
    args.bounds = [int(bound) for bound in args.threads.split(",") if bound]
    if args.requests < 1 or args.clients < 1 or any(bound < 1 for bound in args.bounds):
        parser.error("need requests >= 1, clients >= 1 and thread bounds >= 1")
    return args


@dataclass(frozen=True, slots=True)
class Simulator:
    url: str
    ca_file: Path


@contextmanager
def simulator(folder: Path, latency: float) -> Iterator[Simulator]:
    """The simulate command in a process of its own, until the block ends."""
    command = [sys.executable, "-m", "gateway", "simulate", "salesforce", "--port", "0"]
    command += ["--certs-dir", str(folder), "--latency", str(latency)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], START_SECONDS)
        if not ready:
            raise SystemExit("the Salesforce simulator did not start")
        url = process.stdout.readline().rsplit(" ", 1)[1].strip()
        yield Simulator(url, folder / "ca.pem")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(START_SECONDS)


def config(folder: Path, salesforce: Simulator, threads: int, clients: int) -> Config:
    """The example city; the backend's own limits above the pool, so the pool binds."""
    return gateway_config(
        salesforce,
        folder,
        API_KEY,
        worker=WorkerConfig(concurrency=clients),
        threads=threads,
        timeout=20,
        concurrency=clients,
    )


class Busy:
    """Salesforce requests in flight (one busy thread each), and the most at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def wrap(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def counted(client: Client, request: Any) -> Any:
            with self._lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            try:
                return call(client, request)
            finally:
                with self._lock:
                    self.now -= 1

        return counted


async def lag_while(work: asyncio.Future[Any]) -> list[float]:
    """How late each tick of the loop woke, in seconds, until `work` is done."""
    lags = []
    loop = asyncio.get_running_loop()
    while not work.done():
        planned = loop.time() + TICK
        await asyncio.sleep(TICK)
        lags.append(max(0.0, loop.time() - planned))
    return lags


async def creates(base: str, count: int, clients: int) -> tuple[int, Counter[str]]:
    """POST `count` requests, `clients` at a time; how many got an id, and the rest."""
    made, errors = 0, Counter[str]()
    pending = iter(range(count))
    prefix = uuid.uuid4().hex[:8]
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client() -> None:
            nonlocal made
            for index in pending:
                headers = {"Idempotency-Key": f"{prefix}-{index}"}
                try:
                    async with session.post(
                        f"{base}/requests.json", data=FORM, headers=headers
                    ) as response:
                        body = await response.json()
                        if response.status == 200 and body[0].get("service_request_id"):
                            made += 1
                        else:
                            errors[f"HTTP {response.status}"] += 1
                except (TimeoutError, aiohttp.ClientError) as exc:
                    errors[type(exc).__name__] += 1

        await asyncio.gather(*(client() for _ in range(clients)))
    return made, errors


async def row(
    args: argparse.Namespace, folder: Path, salesforce: Simulator, threads: int | None
) -> tuple[str, bool]:
    """The row's figures, and whether every create got its Case's id."""
    runtime = Runtime(config(folder, salesforce, threads or 1, args.clients))
    busy = Busy()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Client, "call", busy.wrap(Client.call))
        if threads is None:
            patch.setattr(SalesforceConnector, "_run", _inline)
        async with serving(runtime, as_the_process=True) as base:
            await creates(base, 5, 5)  # log in, warm up
            busy.peak = 0
            started = time.perf_counter()
            work = asyncio.ensure_future(creates(base, args.requests, args.clients))
            lags = await lag_while(work)
            made, errors = await work
            seconds = time.perf_counter() - started
    lags.sort()
    p99 = lags[int(len(lags) * 0.99)] if lags else 0.0
    label = f"threads {threads}" if threads is not None else "inline"
    failed = f"  errors {dict(errors)}" if errors else ""
    figures = (
        f"{label:>12} {made / seconds:9.1f} {busy.peak:6d} "
        f"{statistics.median(lags or [0.0]) * 1000:9.1f} {p99 * 1000:9.1f} "
        f"{max(lags or [0.0]) * 1000:9.1f}{failed}"
    )
    return figures, made == args.requests


async def _inline(self: SalesforceConnector, work: Callable[[Client], Any]) -> Any:
    """simple-salesforce on the event loop itself: what the pool spares the gateway."""
    return work(self._client)  # type: ignore[arg-type]


async def run(args: argparse.Namespace, folder: Path) -> bool:
    with simulator(folder / "certs", args.latency) as salesforce:
        print(
            f"{args.requests} creates per row, {args.clients} clients, simulator latency "
            f"{args.latency * 1000:g} ms per call, {os.cpu_count()} CPUs"
        )
        columns = ("creates/s", "busy", "lag p50", "lag p99", "lag max")
        print(
            f"{'pool':>12} {columns[0]:>9} {columns[1]:>6} "
            + " ".join(f"{c:>9}" for c in columns[2:])
            + "  (ms)"
        )
        bounds: list[int | None] = list(args.bounds)
        if not args.no_inline:
            bounds.append(None)
        complete = True
        for index, threads in enumerate(bounds):
            data = folder / f"row-{index}"
            data.mkdir()
            figures, ok = await row(args, data, salesforce, threads)
            print(figures, flush=True)
            complete &= ok
        return complete


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="open311-salesforce-bench-") as folder,
        (Path(folder) / "gateway.log").open("wb") as log,
    ):
        logs.configure(stream=log)
        (Path(folder) / "certs").mkdir()
        return 0 if asyncio.run(run(args, Path(folder))) else 1


if __name__ == "__main__":
    sys.exit(main())
