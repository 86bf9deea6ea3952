"""Instructions per request, the gateway's against bare aiohttp's, counted by callgrind:
a figure that holds on a shared, noisy machine where requests/s do not.

Each server runs under valgrind's callgrind with instrumentation off. After a warm-up
it is turned on for `--requests` requests sent from outside, 16 at a time, and off
again (`callgrind_control`), so start-up and shutdown are not counted; every thread of
the server is (the database threads' SQL included, their fsync waits not). Bare
answers the gateway's bytes (reading a POST's body first). Kernel time is not counted:
bench_http gives the wall-clock ratio. The routes, as bench_http's rows (`unkeyed` aside):

- `accepted`: POSTs to a batch service, accepted by a gateway whose workers run
  elsewhere, each with an Idempotency-Key of its own (the queue in the store's file;
  `--queue-file` puts it in a file of its own);
- `unkeyed`: the same POSTs without an Idempotency-Key, each with a description of its
  own: new requests recognised as such by their content fingerprint, as from a client
  that sends no key;
- `realtime`: POSTs to a realtime service on the embedded default, each answered once
  its in-process worker delivered it to the SQL backend;
- `services`: GET services.json;
- `requests`: GET requests.json (the default 90-day window; the accepting-only
  gateway's backend holds no ticket, so this counts the search, not the rows).

Run:  python tests/bench/bench_cost.py [--route accepted] [--requests 1000] [--warmup 300]
Needs valgrind (apt-get install valgrind). Takes about a minute. Group commit shares
transactions between requests in flight, so figures of a few requests vary: count
3,000 or more to compare changes of about 1 %.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench_http import (
    API_KEY,
    HERE,
    HOST,
    ROUTE_HEADER,
    BenchError,
    Server,
    accept_only_config,
    free_port,
    pick_service,
    request_form,
    wait_until_ready,
)

START_SECONDS = 300.0
"""A server under callgrind starts some 50 times slower than without."""
STOP_SECONDS = 300.0
"""Callgrind writes its counts when the server exits, which takes as long."""
IN_FLIGHT = 16
ROUTES = ("accepted", "unkeyed", "realtime", "services", "requests")


@dataclass(frozen=True, slots=True)
class Load:
    """What each counted request sends: a POST's form, or a GET when there is none."""

    path: str
    form: str | None = None
    keyed: bool = True
    """Whether each POST has an Idempotency-Key of its own; else a description of its own."""

    @property
    def method(self) -> str:
        return "GET" if self.form is None else "POST"


@contextmanager
def under_callgrind(name: str, command: list[str], port: int, work: Path) -> Iterator[Server]:
    """A server run by callgrind with instrumentation off, until the block ends."""
    counts = work / f"{name}.callgrind"
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
    valgrind += [f"--callgrind-out-file={counts}"]
    env = os.environ | {"OPEN311_DATA_DIR": str(work / "data"), "OPEN311_API_KEY": API_KEY}
    with (work / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(
            [*valgrind, *command], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    running = Server(name, process, port, work / f"{name}.log")
    try:
        wait_until_ready(running, "/healthz", timeout=START_SECONDS)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def instrumentation(server: Server, on: bool) -> None:
    switch = ["callgrind_control", "-i", "on" if on else "off", str(server.process.pid)]
    subprocess.run(switch, check=True, capture_output=True)


def counted_instructions(work: Path, name: str) -> int:
    """The instructions callgrind counted, from the file it wrote at exit."""
    text = (work / f"{name}.callgrind").read_text(encoding="utf-8", errors="replace")
    found = re.search(r"^totals:\s+(\d+)", text, re.MULTILINE)
    if found is None:
        raise BenchError(f"{name}: callgrind wrote no totals")
    return int(found.group(1))


async def send_all(base: str, load: Load, count: int, prefix: str) -> bytes:
    """`count` requests, 16 in flight; the last answer's body."""
    answer = b""
    limit = asyncio.Semaphore(IN_FLIGHT)

    async def send(session: aiohttp.ClientSession, number: int) -> None:
        nonlocal answer
        async with limit:
            headers = {ROUTE_HEADER: load.method}
            form = load.form
            if form is not None:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                if load.keyed:
                    headers["Idempotency-Key"] = f"{prefix}-{number}"
                else:
                    form += f"&description=Benchmark+request+{prefix}-{number}"
            async with session.request(
                load.method, f"{base}{load.path}", data=form, headers=headers
            ) as response:
                answer = await response.read()
                if response.status != 200:
                    raise BenchError(f"{load.method} answered {response.status}: {answer[:300]!r}")

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(send(session, number) for number in range(count)))
    return answer


def measure(server: Server, load: Load, args: argparse.Namespace) -> bytes:
    asyncio.run(send_all(server.base, load, args.warmup, "warm-up"))
    instrumentation(server, on=True)
    answer = asyncio.run(send_all(server.base, load, args.requests, "counted"))
    instrumentation(server, on=False)
    return answer


def gateway_command(args: argparse.Namespace, work: Path, port: int) -> list[str]:
    """The embedded default for realtime POSTs; an accepting-only gateway otherwise."""
    command = [sys.executable, "-m", "gateway", "serve", "--host", HOST, "--port", str(port)]
    if args.route == "realtime":
        return command
    return [
        *command,
        "--config",
        str(accept_only_config(work, "gateway", queue_file=args.queue_file)),
    ]


def load_for(route: str, base: str) -> Load:
    if route in ("services", "requests"):
        return Load(f"/{route}.json")
    service = pick_service(base, "realtime" if route == "realtime" else "batch")
    form = request_form(base, service)
    if route == "unkeyed":
        form = [(name, value) for name, value in form if name != "description"]
        return Load("/requests.json", urllib.parse.urlencode(form), keyed=False)
    return Load("/requests.json", urllib.parse.urlencode(form))


def run(args: argparse.Namespace, work: Path) -> None:
    gateway_port, bare_port = free_port(), free_port()
    command = gateway_command(args, work, gateway_port)
    with under_callgrind("gateway", command, gateway_port, work) as gateway:
        load = load_for(args.route, gateway.base)
        answer = measure(gateway, load, args)
    captures = [
        {
            "route": load.method,
            "method": load.method,
            "path": load.path,
            "status": 200,
            "content_type": "application/json; charset=utf-8",
            "body_b64": base64.b64encode(answer).decode(),
        }
    ]
    (work / "captures.json").write_text(json.dumps(captures), encoding="utf-8")
    bare_cmd = [sys.executable, str(HERE / "bare_app.py"), "--captures"]
    bare_cmd += [str(work / "captures.json"), "--host", HOST, "--port", str(bare_port)]
    bare_cmd += ["--route-header", ROUTE_HEADER]
    with under_callgrind("bare", bare_cmd, bare_port, work) as bare:
        measure(bare, load, args)
    ours = counted_instructions(work, "gateway") / args.requests
    theirs = counted_instructions(work, "bare") / args.requests
    own_file = args.queue_file and args.route in ("accepted", "unkeyed")
    where = " (the queue in its own file)" if own_file else ""
    print(f"{args.route}: {args.requests} requests counted after {args.warmup}{where}")
    print(f"  gateway  {ours:>12,.0f} instructions per request")
    print(f"  bare     {theirs:>12,.0f} instructions per request")
    print(f"  ratio    {theirs / ours:>12.3f} (bare / gateway)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--route", choices=ROUTES, default="accepted", help="what is sent")
    parser.add_argument("--requests", type=int, default=1000, help="requests counted")
    parser.add_argument("--warmup", type=int, default=300, help="requests before counting")
    parser.add_argument("--queue-file", action="store_true", help="the queue in a file of its own")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="open311-cost-"))
    try:
        run(args, work)
        return 0
    except BenchError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
