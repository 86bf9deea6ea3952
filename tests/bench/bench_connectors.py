"""Create latency through the gateway, per built-in connector, measured in one run.

For each back office the gateway runs as a city would run it, from the shipped
configuration, in a process of its own: the embedded default (SQL connector on
SQLite); `deploy/examples/postgres.yaml` (the legacy ticketing schema) on a throwaway
PostgreSQL database and on a throwaway MariaDB database; `deploy/examples/federation.yaml`
(open311 connector) in front of a second gateway on the embedded default. A client
POSTs to a realtime service one request at a time, each with an Idempotency-Key of its
own, and times the answer: the request is queued, delivered by the worker to the back
office and answered with the back office's id. Prints median, p99 and mean per back
office; an answer that is only a token (not delivered within `sync_wait`) is counted
apart, and any error fails the run.

Run:  python tests/bench/bench_connectors.py                  # 300 creates per back office
      python tests/bench/bench_connectors.py --creates 1000 --only postgresql mariadb
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the suite's throwaway databases

from bench_http import (  # noqa: E402
    API_KEY,
    REPO,
    BenchError,
    Server,
    fetch,
    free_port,
    pick_service,
    request_form,
    server,
)
from services import mariadb_database, postgres_database  # noqa: E402

UPSTREAM_KEY = "bench-upstream-key"
WARMUP = 20


@dataclass(frozen=True, slots=True)
class Latencies:
    seconds: list[float]
    tokens: int


# --- throwaway databases -----------------------------------------------------------------


@contextmanager
def throwaway(database: Callable[[], AbstractAsyncContextManager[str]]) -> Iterator[str]:
    """One of the suite's throwaway databases (made on entry, dropped on exit), held
    open from this synchronous script: its URL."""
    with asyncio.Runner() as runner:
        made = database()
        url = runner.run(made.__aenter__())
        try:
            yield url
        finally:
            runner.run(made.__aexit__(None, None, None))


# --- gateways ----------------------------------------------------------------------------


def gateway(stack: ExitStack, work: Path, name: str, config: Path | None, **env: str) -> Server:
    """A gateway process on a free port, in a folder of its own (the examples keep their
    store under `./data`), until the stack closes."""
    folder = work / name
    folder.mkdir()
    port = free_port()
    command = [sys.executable, "-m", "gateway", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    if config is not None:
        command += ["--config", str(config)]
    environment = os.environ | {"OPEN311_DATA_DIR": str(folder / "data")} | env
    return stack.enter_context(server(name, command, environment, port, work, cwd=folder))


def sqlite(stack: ExitStack, work: Path) -> Server:
    return gateway(stack, work, "sqlite", None, OPEN311_API_KEY=API_KEY)


def legacy(
    database: Callable[[], AbstractAsyncContextManager[str]], name: str
) -> Callable[..., Server]:
    def started(stack: ExitStack, work: Path) -> Server:
        url = stack.enter_context(throwaway(database))
        config = REPO / "deploy" / "examples" / "postgres.yaml"
        return gateway(stack, work, name, config, OPEN311_API_KEY=API_KEY, BACKEND_URL=url)

    return started


def federation(stack: ExitStack, work: Path) -> Server:
    upstream = gateway(stack, work, "upstream", None, OPEN311_API_KEY=UPSTREAM_KEY)
    config = REPO / "deploy" / "examples" / "federation.yaml"
    return gateway(
        stack,
        work,
        "open311",
        config,
        OPEN311_API_KEY=API_KEY,
        BACKEND_URL=upstream.base,
        BACKEND_API_KEY=UPSTREAM_KEY,
    )


BACKENDS: dict[str, Callable[[ExitStack, Path], Server]] = {
    "sqlite": sqlite,
    "postgresql": legacy(postgres_database, "postgresql"),
    "mariadb": legacy(mariadb_database, "mariadb"),
    "open311": federation,
}


# --- the measurement ---------------------------------------------------------------------


def creates(running: Server, count: int) -> Latencies:
    service = pick_service(running.base, "realtime")
    body = urllib.parse.urlencode(request_form(running.base, service)).encode()
    seconds, tokens = [], 0
    for number in range(WARMUP + count):
        started = time.perf_counter()
        status, _, answer = fetch(f"{running.base}/requests.json", data=body)
        took = time.perf_counter() - started
        if status != 200:
            raise BenchError(f"{running.name}: POST answered {status}: {answer[:300]!r}")
        (receipt,) = json.loads(answer)
        if number < WARMUP:
            continue
        if "service_request_id" in receipt:
            seconds.append(took)
        else:
            tokens += 1
    return Latencies(seconds, tokens)


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(results: dict[str, Latencies]) -> None:
    print(
        f"{'back office':<12} {'creates':>8} {'median ms':>10} {'p99 ms':>8} {'mean ms':>8} tokens"
    )
    for name, found in results.items():
        ordered = sorted(found.seconds)
        if not ordered:
            print(f"{name:<12} {0:>8} {'-':>10} {'-':>8} {'-':>8} {found.tokens}")
            continue
        print(
            f"{name:<12} {len(ordered):>8} {statistics.median(ordered) * 1000:>10.2f} "
            f"{percentile(ordered, 0.99) * 1000:>8.2f} {statistics.fmean(ordered) * 1000:>8.2f} "
            f"{found.tokens}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=300, help="timed creates per back office")
    parser.add_argument("--only", nargs="+", choices=sorted(BACKENDS), help="these back offices")
    args = parser.parse_args(argv)
    if args.creates < 1:
        parser.error("need creates >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="open311-connectors-"))
    results: dict[str, Latencies] = {}
    try:
        for name in args.only or BACKENDS:
            print(f"{name}: {args.creates} creates, one at a time", flush=True)
            with ExitStack() as stack:
                results[name] = creates(BACKENDS[name](stack, work), args.creates)
        print()
        report(results)
        return 0
    except BenchError as error:
        print(f"bench_connectors: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
