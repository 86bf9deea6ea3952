"""A burst of POSTs against a backend that takes a fixed number of requests per second.

The gateway (embedded queue and store on SQLite, the worker in-process) serves on a
loopback port in this process, in front of the scripted backend of the test suite
with `rate_limit` set on its connector. A client sends every POST at once (each with
an Idempotency-Key of its own, `--clients` at a time), then waits until the backend
holds every request it accepted. It prints the errors, the requests lost and the ones
created twice, and the drain time (first POST sent to last request created) against
the ideal, requests / rate: 50 s for the issue's 5,000 at 100/s, target <= 1.15 x.

Run:  python tests/bench/bench_burst.py                      # 5,000 POSTs at 100/s
      python tests/bench/bench_burst.py --requests 500        # a quick run (5 s ideal)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the suite's scripted backend

from gateway import logs  # noqa: E402
from gateway.runtime import Runtime  # noqa: E402

from loopback import serving  # noqa: E402
from scripted_backend import ScriptedConnector, register, scripted_config  # noqa: E402

API_KEY = "bench-key"
TARGET = 1.15
FORM = {"api_key": API_KEY, "service_code": "DOG", "lat": "51.5072", "long": "-0.1276"}
PATIENCE = 3.0
"""How many times the ideal drain time to wait before reporting the rest as lost."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=100.0, help="backend requests/s")
    parser.add_argument("--clients", type=int, default=200, help="POSTs in flight at once")
    parser.add_argument(
        "--sync-wait", type=float, default=0.0, help="seconds a POST waits for the id"
    )
    args = parser.parse_args(argv)
    if args.requests < 1 or args.rate <= 0 or args.clients < 1:
        parser.error("need requests >= 1, rate > 0, clients >= 1")
    return args


async def burst(base: str, keys: list[str], clients: int) -> tuple[set[str], Counter[str]]:
    """Every POST once; the keys answered 2xx, and the other answers by kind."""
    accepted: set[str] = set()
    errors: Counter[str] = Counter()
    pending = iter(keys)
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client() -> None:
            for key in pending:
                try:
                    async with session.post(
                        f"{base}/requests.json", data=FORM, headers={"Idempotency-Key": key}
                    ) as response:
                        await response.read()
                        if 200 <= response.status < 300:
                            accepted.add(key)
                        else:
                            errors[f"HTTP {response.status}"] += 1
                except (TimeoutError, aiohttp.ClientError) as exc:
                    errors[type(exc).__name__] += 1

        await asyncio.gather(*(client() for _ in range(clients)))
    return accepted, errors


def reference(key: str) -> str:
    """How the gateway writes a client's Idempotency-Key into the backend record."""
    return f"header:{key}"


async def delivered(backend: ScriptedConnector, accepted: set[str], deadline: float) -> None:
    """Return once the backend holds every accepted key, or at the deadline."""
    wanted = {reference(key) for key in accepted}
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        if wanted <= backend.references().keys():
            return
        await asyncio.sleep(0.05)


async def run(args: argparse.Namespace, folder: Path) -> int:
    config = scripted_config(
        folder,
        API_KEY,
        connector={"rate_limit": args.rate},
        sync_wait=args.sync_wait,
    )
    runtime = Runtime(config)
    backend = runtime.tenants.resolve("city").connector
    assert isinstance(backend, ScriptedConnector)
    async with serving(runtime, as_the_process=True) as base:
        prefix = uuid.uuid4().hex[:8]
        keys = [f"{prefix}-{index}" for index in range(args.requests)]
        ideal = args.requests / args.rate
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        accepted, errors = await burst(base, keys, args.clients)
        sent = time.perf_counter() - started
        await delivered(backend, accepted, loop.time() + ideal * PATIENCE)
        drained = time.perf_counter() - started
        dead = await runtime.queue.dead_letters(1000)

    made = backend.references()
    lost = {key for key in accepted if reference(key) not in made}
    duplicated = {made_for for made_for, count in made.items() if count > 1}
    ratio = drained / ideal
    verdict = "ok" if ratio <= TARGET else "ABOVE"
    print(f"{args.requests} POSTs, {args.clients} at a time, backend at {args.rate:g}/s")
    print(f"  accepted      {len(accepted)} in {sent:.1f} s ({len(accepted) / sent:.0f}/s)")
    print(f"  errors        {sum(errors.values())} {dict(errors) if errors else ''}".rstrip())
    print(f"  lost          {len(lost)}")
    print(f"  duplicated    {len(duplicated)}")
    print(f"  dead letters  {len(dead)}")
    print(
        f"  drained in    {drained:.1f} s; ideal {ideal:.1f} s; {ratio:.3f} x (target <= {TARGET})"
    )
    print(f"  drain         {verdict}")
    return 1 if errors or lost or duplicated or dead else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="open311-burst-") as folder,
        (Path(folder) / "gateway.log").open("wb") as log,
        pytest.MonkeyPatch.context() as patch,
    ):
        logs.configure(stream=log)  # the access lines stay out of the report
        register(patch)
        return asyncio.run(run(args, Path(folder)))


if __name__ == "__main__":
    sys.exit(main())
