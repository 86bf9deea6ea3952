"""HTTP throughput of the gateway against a bare aiohttp app serving the same bytes.

The bare app answers the responses captured from the gateway, byte for byte, on the
same framework and event loop, so `gateway req/s / bare req/s` is the share of the
framework's ceiling the gateway keeps once it does its real work (routing, parsing,
validation, the SQLite backend, rendering, the access log). Absolute numbers on a
shared machine mean little; the ratio of two runs taken side by side does.

Run:  python tests/bench/bench_http.py [--duration 10] [--connections 32] [--rounds 2]
      python tests/bench/bench_http.py --quick        # 2 s runs, 1 round: smoke check
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
HOST = "127.0.0.1"
API_KEY = "bench-key"
SEED_REQUESTS = 5
START_TIMEOUT = 60.0
LOCATION = {"lat": "51.5072", "long": "-0.1276"}


class BenchError(Exception):
    """A failure that makes the figures meaningless: reported, then exit non-zero."""


@dataclass(frozen=True, slots=True)
class Route:
    label: str
    method: str
    path: str
    target: float | None
    """The ratio gateway/bare we report against, if any."""
    service_type: str = "realtime"
    """For a POST: the type of service it files under. A realtime POST is answered once
    the backend has the request; a batch POST as soon as it is durably queued."""
    worker: str = "in_process"
    """Where queued requests are delivered: by the gateway measured (`in_process`, the
    embedded default), or by workers in other processes (`external`), which leaves the
    gateway's CPU to accepting requests alone; `external-own-file` is that gateway with
    the queue in a file of its own, so the job and its acceptance commit apart."""


ROUTES = (
    Route("GET services.json", "GET", "/services.json", 0.6),
    Route("GET services.xml", "GET", "/services.xml", None),
    Route("GET requests.json", "GET", "/requests.json", None),
    # Last on purpose: they grow the ticket table, which GET requests.json reads.
    Route(
        "POST batch, accepted; workers elsewhere",
        "POST",
        "/requests.json",
        0.25,
        "batch",
        "external",
    ),
    Route(
        "POST batch, accepted; workers elsewhere, queue in its own file",
        "POST",
        "/requests.json",
        None,
        "batch",
        "external-own-file",
    ),
    Route("POST batch, accepted; worker in-process", "POST", "/requests.json", None, "batch"),
    Route("POST realtime, delivered; worker in-process", "POST", "/requests.json", 0.2),
)
ROUTE_HEADER = "X-Bench-Route"
"""Names the route a request measures, so the bare app answers two POST rows on one
path with each one's own captured bytes (the gateway ignores it)."""


@dataclass(frozen=True, slots=True)
class Capture:
    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests_per_s: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: str | None


@dataclass(slots=True)
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    stderr: Path

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"


# --- helpers -------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nobody listens on now (the kernel picks it)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def fetch(
    url: str, *, data: bytes | None = None, route: str | None = None, timeout: float = 10.0
) -> tuple[int, str, bytes]:
    """(status, content-type, body) of one request; HTTP errors are answers, not raises.
    A POST carries an Idempotency-Key of its own: it is a new request, never a repeat."""
    headers = {} if route is None else {ROUTE_HEADER: route}
    if data is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Idempotency-Key"] = uuid.uuid4().hex
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def pinned(cpu: int | None, command: list[str]) -> list[str]:
    return command if cpu is None else ["taskset", "-c", str(cpu), *command]


def tail(path: Path, lines: int = 20) -> str:
    with suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


@contextmanager
def server(
    name: str,
    command: list[str],
    env: dict[str, str],
    port: int,
    log_dir: Path,
    cwd: Path = REPO,
    ready: str = "/healthz",
) -> Iterator[Server]:
    """Run a server until the block ends, once `ready` (a path) answers 200; stdout and
    stderr go to files in `log_dir`."""
    log = log_dir / f"{name}.stdout.log"
    err = log_dir / f"{name}.stderr.log"
    with log.open("wb") as out, err.open("wb") as errors:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=errors)
    running = Server(name, process, port, err)
    try:
        wait_until_ready(running, ready)
        yield running
    finally:
        stop(process)


def wait_until_ready(running: Server, path: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise BenchError(
                f"{running.name} exited with {running.process.returncode} before answering "
                f"{path}; its stderr ends with:\n{tail(running.stderr)}"
            )
        with suppress(OSError):
            if fetch(running.base + path, timeout=2.0)[0] == 200:
                return
        time.sleep(0.2)
    raise BenchError(f"{running.name} did not answer {path} within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (aiohttp shuts down cleanly on it), SIGKILL if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the gateway: pick a service, seed, capture ------------------------------------------


def attribute_value(attribute: dict[str, Any]) -> list[str]:
    """Values satisfying one required attribute of a service definition, by datatype."""
    datatype = attribute.get("datatype")
    keys = [str(value["key"]) for value in attribute.get("values") or []]
    if datatype in ("singlevaluelist", "multivaluelist"):
        if not keys:
            raise BenchError(f"attribute {attribute.get('code')}: a list with no values")
        return keys[:1]
    if datatype == "number":
        return ["1"]
    if datatype == "datetime":
        return [datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")]
    return ["benchmark"]


def request_form(base: str, service: dict[str, Any]) -> list[tuple[str, str]]:
    """A valid POST requests form for `service`, required attributes filled in."""
    code = str(service["service_code"])
    form = [
        ("api_key", API_KEY),
        ("service_code", code),
        *LOCATION.items(),
        ("description", "Benchmark request"),
    ]
    if not service.get("metadata"):
        return form
    status, _, body = fetch(f"{base}/services/{urllib.parse.quote(code)}.json")
    if status != 200:
        raise BenchError(f"GET services/{code}.json answered {status}: {body[:300]!r}")
    for attribute in json.loads(body).get("attributes", []):
        wanted = attribute.get("required") and attribute.get("variable", True)
        if not wanted or attribute.get("automated") == "server_set":
            continue
        values = attribute_value(attribute)
        if attribute.get("datatype") == "multivaluelist":
            form += [(f"attribute[{attribute['code']}][]", v) for v in values]
        else:
            form += [(f"attribute[{attribute['code']}]", v) for v in values]
    return form


def pick_service(base: str, service_type: str) -> dict[str, Any]:
    """A service of `service_type`, preferring one without metadata (no attributes to fill)."""
    status, _, body = fetch(f"{base}/services.json")
    if status != 200:
        raise BenchError(f"GET services.json answered {status}: {body[:300]!r}")
    found = [s for s in json.loads(body) if s.get("type", "realtime") == service_type]
    if not found:
        raise BenchError(f"services.json lists no {service_type} service to POST requests to")
    found.sort(key=lambda s: bool(s.get("metadata")))
    return found[0]


def post_bodies(base: str) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """Per service type a POST needs: the service code and a valid form for it."""
    bodies = {}
    for service_type in {route.service_type for route in ROUTES if route.method == "POST"}:
        service = pick_service(base, service_type)
        bodies[service_type] = (str(service["service_code"]), request_form(base, service))
    return bodies


def seed_and_capture(base: str, forms: dict[str, list[tuple[str, str]]]) -> dict[Route, Capture]:
    """Create a few requests, then record what each benchmarked route answers."""
    seed = urllib.parse.urlencode(forms["realtime"]).encode()
    for _ in range(SEED_REQUESTS):
        status, _, answer = fetch(f"{base}/requests.json", data=seed)
        if not 200 <= status < 300:
            raise BenchError(f"seeding POST requests.json answered {status}: {answer[:300]!r}")
    captures = {}
    # The POSTs first: they create requests too, which GET requests.json must list.
    for route in sorted(ROUTES, key=lambda r: r.method != "POST"):
        data = None
        if route.method == "POST":
            data = urllib.parse.urlencode(forms[route.service_type]).encode()
        status, content_type, answer = fetch(base + route.path, data=data)
        if not 200 <= status < 300:
            raise BenchError(f"{route.label} answered {status}: {answer[:300]!r}")
        captures[route] = Capture(status, content_type, answer)
    listing = next(r for r in ROUTES if r.method == "GET" and r.path == "/requests.json")
    found = json.loads(captures[listing].body)
    if len(found) < SEED_REQUESTS:
        raise BenchError(f"GET requests.json lists {len(found)} requests after seeding")
    return {route: captures[route] for route in ROUTES}


def write_captures(captures: dict[Route, Capture], path: Path) -> None:
    rows = [
        {
            "route": route.label,
            "method": route.method,
            "path": route.path,
            "status": capture.status,
            "content_type": capture.content_type,
            "body_b64": base64.b64encode(capture.body).decode(),
        }
        for route, capture in captures.items()
    ]
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")


def check_same_bytes(route: Route, gateway: Server, bare: Server) -> None:
    """Both servers must send the same body for a GET, or the ratio compares unlike work."""
    if route.method != "GET":
        return
    ours, theirs = fetch(gateway.base + route.path), fetch(bare.base + route.path)
    if ours != theirs:
        print(
            f"  warning: {route.label}: gateway now answers {len(ours[2])} bytes, "
            f"bare {len(theirs[2])} (captured earlier)",
            file=sys.stderr,
        )


# --- wrk ---------------------------------------------------------------------------------


def post_script(path: Path, route: Route, form: list[tuple[str, str]]) -> None:
    """The wrk Lua script for a POST route: the same valid form every time, each with an
    Idempotency-Key of its own (the run's prefix, given as the script's argument, the
    thread and a counter), so every POST is a new request and none a cheap repeat."""
    body = urllib.parse.urlencode(form)
    assert '"' not in body and "\\" not in body  # urlencoded: safe in a Lua string
    assert '"' not in route.label
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        f'wrk.headers["{ROUTE_HEADER}"] = "{route.label}"\n'
        f'wrk.body = "{body}"\n'
        "local threads = 0\n"
        "function setup(thread)\n"
        "  threads = threads + 1\n"
        '  thread:set("thread_no", threads)\n'
        "end\n"
        "function init(args)\n"
        "  prefix = args[1]\n"
        "  sent = 0\n"
        "end\n"
        "function request()\n"
        "  sent = sent + 1\n"
        '  wrk.headers["Idempotency-Key"] = prefix .. "-" .. thread_no .. "-" .. sent\n'
        "  return wrk.format()\n"
        "end\n",
        encoding="utf-8",
    )


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_wrk(output: str) -> WrkResult:
    """Requests/s, p99 (needs --latency), totals and errors from wrk's report."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p99 = re.search(r"^\s+99(?:\.000)?%\s+([\d.]+)(us|ms|s|m|h)\b", output, re.M)
    total = re.search(r"^\s+(\d+) requests in ", output, re.M)
    if not (rate and p99 and total):
        raise BenchError(f"cannot parse wrk's output:\n{output}")
    non_2xx = re.search(r"^\s+Non-2xx or 3xx responses:\s+(\d+)", output, re.M)
    errors = re.search(r"^\s+Socket errors:\s+(.+)$", output, re.M)
    return WrkResult(
        requests_per_s=float(rate.group(1)),
        p99_ms=float(p99.group(1)) * _UNITS_MS[p99.group(2)],
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errors.group(1).strip() if errors else None,
    )


def run_wrk(args: argparse.Namespace, url: str, duration: float, script: Path | None) -> WrkResult:
    command = ["wrk", "-t", str(args.threads), "-c", str(args.connections)]
    command += ["-d", f"{duration:g}s", "--latency"]
    arguments = []
    if script is not None:
        command += ["-s", str(script)]
        arguments = ["--", uuid.uuid4().hex]  # each run's keys are new
    completed = subprocess.run(
        pinned(args.client_cpu, [*command, url, *arguments]),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    return parse_wrk(completed.stdout)


DRAIN_TIMEOUT = 300.0
"""Seconds a gateway's in-process worker may take to deliver what earlier runs queued."""


def queue_depth(gateway: Server) -> int:
    with urllib.request.urlopen(gateway.base + "/metrics", timeout=10) as response:
        text = response.read().decode()
    found = re.search(r"^open311_queue_depth (\S+)$", text, re.MULTILINE)
    if found is None:
        raise BenchError(f"{gateway.name}: /metrics shows no open311_queue_depth")
    return int(float(found.group(1)))


def drain(delivering: list[Server]) -> None:
    """Wait until the gateways whose worker runs in-process have delivered every queued
    request: a worker still delivering an earlier run's backlog would take CPU from
    whichever server is measured next (they share one CPU)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    for gateway in delivering:
        while queue_depth(gateway) > 0:
            if time.monotonic() > deadline:
                raise BenchError(f"{gateway.name}: its queue did not drain in {DRAIN_TIMEOUT:g} s")
            time.sleep(0.5)


def measure(
    args: argparse.Namespace,
    route: Route,
    gateway: Server,
    bare: Server,
    script: Path | None,
    delivering: list[Server],
) -> dict[str, WrkResult]:
    """Warm both up, then alternate gateway and bare; keep each one's best round. Every
    run starts once the `delivering` gateways have drained their queues."""
    best: dict[str, WrkResult] = {}
    servers = {"gateway": gateway, "bare": bare}
    for running in servers.values():
        drain(delivering)
        run_wrk(args, running.base + route.path, args.warmup, script)
    for round_no in range(1, args.rounds + 1):
        for role, running in servers.items():
            drain(delivering)
            result = run_wrk(args, running.base + route.path, args.duration, script)
            print(
                f"  round {round_no} {running.name:<7} {result.requests_per_s:>10.1f} req/s  "
                f"p99 {result.p99_ms:8.2f} ms  ({result.requests} requests"
                + (f", socket errors: {result.socket_errors}" if result.socket_errors else "")
                + ")",
                flush=True,
            )
            if result.non_2xx:
                raise BenchError(
                    f"{route.label} on {running.name}: {result.non_2xx} of {result.requests} "
                    "responses were not 2xx/3xx, so the figures do not measure the real work"
                )
            previous = best.get(role)
            if previous is None or result.requests_per_s > previous.requests_per_s:
                best[role] = result
    return best


# --- report ------------------------------------------------------------------------------


def print_table(results: dict[Route, dict[str, WrkResult]]) -> None:
    header = ("route", "gateway req/s", "bare req/s", "ratio", "gw p99 ms", "bare p99 ms", "target")
    rows = []
    for route, best in results.items():
        gateway, bare = best["gateway"], best["bare"]
        ratio = gateway.requests_per_s / bare.requests_per_s if bare.requests_per_s else 0.0
        target = "-"
        if route.target is not None:
            target = f">= {route.target:.2f} {'ok' if ratio >= route.target else 'BELOW'}"
        rows.append(
            (
                route.label,
                f"{gateway.requests_per_s:.0f}",
                f"{bare.requests_per_s:.0f}",
                f"{ratio:.2f}",
                f"{gateway.p99_ms:.2f}",
                f"{bare.p99_ms:.2f}",
                target,
            )
        )
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, tuple("-" * w for w in widths), *rows):
        cells = [
            cell.ljust(width) if i in (0, len(row) - 1) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


# --- main --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (it has one CPU)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per server")
    parser.add_argument("--warmup", type=float, default=None, help="seconds (default: 2)")
    parser.add_argument("--quick", action="store_true", help="smoke check: 2 s runs, 1 round")
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU both servers run on")
    parser.add_argument("--client-cpu", type=int, default=1, help="CPU wrk runs on")
    parser.add_argument("--no-pin", action="store_true", help="do not use taskset")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, DB)")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds = 2.0, 1
        args.warmup = 1.0 if args.warmup is None else args.warmup
    if args.warmup is None:
        args.warmup = 2.0
    if args.no_pin:
        args.server_cpu = args.client_cpu = None
    if min(args.duration, args.warmup) <= 0 or args.rounds < 1 or args.connections < args.threads:
        parser.error("need duration and warmup > 0, rounds >= 1, connections >= threads")
    return args


def check_tools(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed: apt-get install wrk")
    if args.server_cpu is None:
        return
    if shutil.which("taskset") is None:
        raise BenchError("taskset is not installed (apt-get install util-linux), or pass --no-pin")
    cpus = os.sched_getaffinity(0)
    if (
        args.server_cpu not in cpus
        or args.client_cpu not in cpus
        or args.server_cpu == args.client_cpu
    ):
        raise BenchError(
            f"--server-cpu {args.server_cpu} and --client-cpu {args.client_cpu} must be two "
            f"different CPUs of {sorted(cpus)}; or pass --no-pin"
        )


def accept_only_config(work: Path, name: str, *, queue_file: bool) -> Path:
    """The embedded default's jurisdiction on a gateway whose workers run elsewhere:
    it accepts and queues, and leaves delivery to `open311-gateway worker` processes.
    The queue is in the store's file (the default), or in a file of its own."""
    folder = work / name
    folder.mkdir()
    own_queue = {"queue_url": f"sqlite:///{folder / 'queue.db'}"} if queue_file else {}
    config = {
        "gateway": {
            "store_url": f"sqlite:///{folder / 'gateway.db'}",
            **own_queue,
            "worker": {"mode": "external"},
        },
        "jurisdictions": [
            {
                "id": "example.city",
                "name": "Example City",
                "mapping": str(REPO / "mappings" / "embedded.yaml"),
                "api_key_env": "OPEN311_API_KEY",
                "connector": {
                    "kind": "sql",
                    "settings": {
                        "url": f"sqlite:///{folder / 'tickets.db'}",
                        "create_schema": True,
                    },
                },
            }
        ],
    }
    path = folder / "gateway.yaml"
    path.write_text(json.dumps(config, indent=1), encoding="utf-8")  # JSON is YAML
    return path


def gateway_command(args: argparse.Namespace, port: int, config: Path | None) -> list[str]:
    command = [sys.executable, "-m", "gateway", "serve", "--host", HOST, "--port", str(port)]
    if config is not None:
        command += ["--config", str(config)]
    return pinned(args.server_cpu, command)


def run(args: argparse.Namespace, work: Path) -> None:
    env = os.environ | {"OPEN311_DATA_DIR": str(work / "data"), "OPEN311_API_KEY": API_KEY}
    port, accepting_port, own_file_port = free_port(), free_port(), free_port()
    accepting_config = accept_only_config(work, "accept-only", queue_file=False)
    own_file_config = accept_only_config(work, "accept-only-own-file", queue_file=True)
    with (
        server("gateway", gateway_command(args, port, None), env, port, work) as gw,
        server(
            "gateway-accept-only",
            gateway_command(args, accepting_port, accepting_config),
            env,
            accepting_port,
            work,
        ) as accepting,
        server(
            "gateway-accept-only-own-file",
            gateway_command(args, own_file_port, own_file_config),
            env,
            own_file_port,
            work,
        ) as own_file,
    ):
        gateways = {"in_process": gw, "external": accepting, "external-own-file": own_file}
        bodies = post_bodies(gw.base)
        captures = seed_and_capture(gw.base, {kind: form for kind, (_, form) in bodies.items()})
        write_captures(captures, work / "captures.json")
        scripts = {}
        for number, route in enumerate(ROUTES):
            if route.method == "POST":
                scripts[route] = work / f"post-{number}.lua"
                post_script(scripts[route], route, bodies[route.service_type][1])
        services = ", ".join(f"{kind} {code}" for kind, (code, _) in sorted(bodies.items()))
        print(f"services {services}; captured bytes: ", end="")
        print(", ".join(f"{r.label} {len(c.body)}" for r, c in captures.items()))

        bare_port = free_port()
        bare_cmd = [sys.executable, str(HERE / "bare_app.py"), "--captures"]
        bare_cmd += [str(work / "captures.json"), "--host", HOST, "--port", str(bare_port)]
        bare_cmd += ["--route-header", ROUTE_HEADER]
        with server("bare", pinned(args.server_cpu, bare_cmd), env, bare_port, work) as bare:
            results = {}
            for route in ROUTES:
                print(f"{route.label}", flush=True)
                gateway = gateways[route.worker]
                check_same_bytes(route, gateway, bare)
                results[route] = measure(args, route, gateway, bare, scripts.get(route), [gw])
    print()
    print_table(results)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="open311-bench-"))
    try:
        check_tools(args)
        pin = (
            "not pinned"
            if args.server_cpu is None
            else (f"servers on CPU {args.server_cpu}, wrk on CPU {args.client_cpu}")
        )
        print(
            f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, "
            f"{args.rounds} round(s), warmup {args.warmup:g}s; {pin}; work dir {work}; "
            f"load average {os.getloadavg()[0]:.2f} (another load skews the ratios)"
        )
        run(args, work)
        return 0
    except BenchError as error:
        print(f"bench_http: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
