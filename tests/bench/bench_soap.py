"""SOAP creates through the gateway: CPU time the gateway spends per create, and creates/s.

Three processes: the CaseWorks simulator (`open311-gateway simulate soap-crm`), the
gateway (`open311-gateway serve`, Millbrook's mapping on the soap connector, the worker
in-process, queue and store on SQLite) and this client. Each POST carries an
Idempotency-Key of its own and waits for the case number (realtime, `sync_wait` 10 s),
so every answer counted is a case created in the CRM through zeep. The gateway's CPU
time (user + system, from /proc) is read before and after the run: neither the
client's nor the simulator's CPU is counted.

A second row times the connector alone in this process (`SoapConnector.create` against
the same simulator, `time.process_time`): what zeep and httpx cost per create, out of
what the gateway spends.

Run:  python tests/bench/bench_soap.py                       # 1,000 POSTs, 16 at a time
      python tests/bench/bench_soap.py --requests 200 --concurrency 8   # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the suite's helpers

from connectors.soap import SoapConnector  # noqa: E402
from connectors.testing.soap_crm import DEFAULT_PASSWORD, DEFAULT_USERNAME  # noqa: E402
from gateway import logs  # noqa: E402
from gateway.mapping import load_mapping  # noqa: E402

from bench_http import BenchError, free_port, server  # noqa: E402
from soapcrm import MILLBROOK, case  # noqa: E402

API_KEY = "bench-key"
FORM = {
    "api_key": API_KEY,
    "service_code": "RD-POT",
    "lat": "51.507200",
    "long": "-0.127600",
    "address_string": "12 Mill Lane",
    "description": "Deep hole by the bus stop",
    "attribute[depth]": "12",
}
CONFIG = """\
gateway:
  store_url: sqlite:///{folder}/gateway.db
  access_log: true
jurisdictions:
  - id: millbrook.example
    mapping: {mapping}
    api_key_env: OPEN311_API_KEY
    sync_wait: 10
    connector:
      kind: soap
      timeout: 10
      concurrency: 16
      settings:
        wsdl: "{wsdl}"
        basic_auth: {{username: {username}, password: {password}}}
"""
TICKS = os.sysconf("SC_CLK_TCK")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16, help="POSTs in flight at once")
    parser.add_argument("--warmup", type=int, default=50, help="POSTs before measuring")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("need requests >= 1, concurrency >= 1, warmup >= 0")
    return args


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def post_all(base: str, count: int, concurrency: int) -> tuple[int, list[str]]:
    """`count` POSTs, `concurrency` at a time: how many got a case number, and the errors."""
    created, errors = 0, []
    remaining = iter(range(count))
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client() -> None:
            nonlocal created
            for _ in remaining:
                headers = {"Idempotency-Key": uuid.uuid4().hex}
                async with session.post(f"{base}/requests.json", data=FORM, headers=headers) as r:
                    body = await r.json()
                if r.status == 200 and "service_request_id" in body[0]:
                    created += 1
                else:
                    errors.append(f"{r.status} {body}")

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return created, errors


async def connector_alone(wsdl: str, count: int, concurrency: int) -> tuple[float, float]:
    """CPU seconds per create and creates/s of the connector by itself, in this process."""
    settings = {
        "wsdl": wsdl,
        "basic_auth": {"username": DEFAULT_USERNAME, "password": DEFAULT_PASSWORD},
    }
    connector = SoapConnector(settings, load_mapping(MILLBROOK).backend, timeout=10)
    await connector.start()
    try:
        remaining = iter(range(count))

        async def client() -> None:
            for _ in remaining:
                await connector.create(case(), uuid.uuid4().hex)

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await connector.close()
    return cpu / count, count / wall


def run(args: argparse.Namespace, folder: Path) -> int:
    env = {**os.environ, "OPEN311_API_KEY": API_KEY}
    crm_port, gateway_port = free_port(), free_port()
    gateway_cli = [sys.executable, "-m", "gateway"]
    simulate = [*gateway_cli, "simulate", "soap-crm", "--port", str(crm_port)]
    with server("simulator", simulate, env, crm_port, folder, ready="/?wsdl") as crm:
        wsdl = f"{crm.base}/?wsdl"
        config = folder / "gateway.yaml"
        config.write_text(
            CONFIG.format(
                folder=folder,
                mapping=MILLBROOK,
                wsdl=wsdl,
                username=DEFAULT_USERNAME,
                password=DEFAULT_PASSWORD,
            )
        )
        serve = [*gateway_cli, "serve", "--config", str(config), "--port", str(gateway_port)]
        with server("gateway", serve, env, gateway_port, folder, ready="/readyz") as gateway:
            asyncio.run(post_all(gateway.base, args.warmup, args.concurrency))
            cpu, wall = cpu_seconds(gateway.process.pid), time.perf_counter()
            created, errors = asyncio.run(post_all(gateway.base, args.requests, args.concurrency))
            cpu, wall = cpu_seconds(gateway.process.pid) - cpu, time.perf_counter() - wall
        alone_cpu, alone_rate = asyncio.run(connector_alone(wsdl, args.requests, args.concurrency))

    print(f"{args.requests} POSTs, {args.concurrency} in flight, after {args.warmup} to warm up")
    print(f"{'what':<46} {'CPU ms/create':>14} {'creates/s':>10}")
    gateway_row = "gateway process: POST, queue, worker, zeep"
    print(f"{gateway_row:<46} {1000 * cpu / max(created, 1):>14.2f} {created / wall:>10.1f}")
    alone_row = "SoapConnector.create alone (zeep + httpx)"
    print(f"{alone_row:<46} {1000 * alone_cpu:>14.2f} {alone_rate:>10.1f}")
    if errors or created != args.requests:
        print(f"{len(errors)} POSTs without a case number, e.g. {errors[:3]}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logs.configure()  # as the gateway runs: info and up, so no wire logs
    with tempfile.TemporaryDirectory(prefix="bench-soap-") as folder:
        try:
            return run(args, Path(folder))
        except BenchError as error:
            print(f"bench_soap: {error}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
