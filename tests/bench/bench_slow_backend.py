"""Answer times of POSTs sent all at once to a backend that takes 2 s per create.

The gateway (embedded queue and store on SQLite, worker in-process) serves on a
loopback port in this process; `--posts` POSTs go at once, each on a connection opened
beforehand. Each should be answered within `sync_wait` + 100 ms, with a token (the
backend is slower than the wait), and be delivered afterwards exactly once. Prints the
median, p99 and slowest answer against that bound, and the deliveries.

Run:  python tests/bench/bench_slow_backend.py                 # 200 POSTs, sync_wait 0.5 s
      python tests/bench/bench_slow_backend.py --posts 500
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the suite's scripted backend and drill

from gateway import logs  # noqa: E402

from scripted_backend import register  # noqa: E402
from slow_backend import key, run_drill  # noqa: E402

MARGIN = 0.1
"""Seconds past `sync_wait` an answer may take (the issue's bound)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--sync-wait", type=float, default=0.5)
    args = parser.parse_args(argv)
    if args.posts < 1 or args.sync_wait <= 0:
        parser.error("need posts >= 1 and sync-wait > 0")
    return args


def report(args: argparse.Namespace, folder: Path) -> int:
    drill = asyncio.run(
        run_drill(folder, posts=args.posts, sync_wait=args.sync_wait, as_the_process=True)
    )
    seconds = sorted(answer.seconds for answer in drill.answers)
    tokens = sum(1 for a in drill.answers if a.status == 200 and "token" in a.body[0])
    wanted = {f"header:{key(index)}": 1 for index in range(args.posts)}
    lost = len(wanted.keys() - drill.references.keys())
    duplicated = sum(1 for count in drill.references.values() if count > 1)
    bound = args.sync_wait + MARGIN
    slowest = seconds[-1]
    p99 = seconds[min(len(seconds) - 1, round(0.99 * (len(seconds) - 1)))]
    print(f"{args.posts} POSTs at once, backend 2 s per create, sync_wait {args.sync_wait:g} s")
    print(f"  answered with a token  {tokens}")
    print(
        f"  answer time            median {statistics.median(seconds):.3f} s, "
        f"p99 {p99:.3f} s, slowest {slowest:.3f} s "
        f"(bound {bound:.3f} s: {'ok' if slowest <= bound else 'ABOVE'})"
    )
    print(f"  delivered              {len(drill.references)}; lost {lost}; duplicated {duplicated}")
    return 0 if tokens == args.posts and not lost and not duplicated else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="open311-slow-") as folder,
        (Path(folder) / "gateway.log").open("wb") as log,
        pytest.MonkeyPatch.context() as patch,
    ):
        logs.configure(stream=log)  # the access lines stay out of the report
        register(patch)
        return report(args, Path(folder))


if __name__ == "__main__":
    sys.exit(main())
