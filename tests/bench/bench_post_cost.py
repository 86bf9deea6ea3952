"""Instructions per accepted POST, the gateway's against bare aiohttp's, counted by
callgrind: a figure that holds on a shared, noisy machine where requests/s do not.

Each server runs under valgrind's callgrind with instrumentation off. After a warm-up
it is turned on for `--posts` POSTs sent from outside, 16 at a time, and off again
(`callgrind_control`), so start-up and shutdown are not counted; every thread of the
server is (the database thread's SQL included, its fsync waits not). The gateway
accepts into a batch service with its workers elsewhere, as bench_http's first POST
row, every POST with an Idempotency-Key of its own; bare reads the body and answers
the gateway's bytes. Kernel time is not counted: bench_http gives the wall-clock ratio.

Run:  python tests/bench/bench_post_cost.py [--posts 1000] [--warmup 300]
Needs valgrind (apt-get install valgrind). Takes about a minute.
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
ROUTE = "accepted"


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


async def post_all(base: str, form: str, count: int, prefix: str) -> bytes:
    """`count` POSTs, each a new request; the last answer's body."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", ROUTE_HEADER: ROUTE}
    limit = asyncio.Semaphore(IN_FLIGHT)
    answer = b""

    async def post(session: aiohttp.ClientSession, number: int) -> None:
        nonlocal answer
        async with limit:
            key = {"Idempotency-Key": f"{prefix}-{number}"}
            async with session.post(
                f"{base}/requests.json", data=form, headers=headers | key
            ) as response:
                answer = await response.read()
                if response.status != 200:
                    raise BenchError(f"POST answered {response.status}: {answer[:300]!r}")

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(post(session, number) for number in range(count)))
    return answer


def measure(server: Server, form: str, args: argparse.Namespace) -> bytes:
    asyncio.run(post_all(server.base, form, args.warmup, "warm-up"))
    instrumentation(server, on=True)
    answer = asyncio.run(post_all(server.base, form, args.posts, "counted"))
    instrumentation(server, on=False)
    return answer


def run(args: argparse.Namespace, work: Path) -> None:
    gateway_port, bare_port = free_port(), free_port()
    config = accept_only_config(work, "gateway", queue_file=args.queue_file)
    gateway_cmd = [sys.executable, "-m", "gateway", "serve", "--host", HOST]
    gateway_cmd += ["--port", str(gateway_port), "--config", str(config)]
    with under_callgrind("gateway", gateway_cmd, gateway_port, work) as gateway:
        service = pick_service(gateway.base, "batch")
        form = urllib.parse.urlencode(request_form(gateway.base, service))
        answer = measure(gateway, form, args)
    captures = [
        {
            "route": ROUTE,
            "method": "POST",
            "path": "/requests.json",
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
        measure(bare, form, args)
    ours = counted_instructions(work, "gateway") / args.posts
    theirs = counted_instructions(work, "bare") / args.posts
    layout = "its own file" if args.queue_file else "the store's file"
    print(f"{args.posts} POSTs counted after {args.warmup}; the queue in {layout}")
    print(f"  gateway  {ours:>12,.0f} instructions per POST")
    print(f"  bare     {theirs:>12,.0f} instructions per POST")
    print(f"  ratio    {theirs / ours:>12.3f} (bare / gateway; bench_http's target is 0.25)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1000, help="POSTs counted")
    parser.add_argument("--warmup", type=int, default=300, help="POSTs before counting")
    parser.add_argument("--queue-file", action="store_true", help="the queue in a file of its own")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="open311-post-cost-"))
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
