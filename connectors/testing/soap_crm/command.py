"""`open311-gateway simulate soap-crm`: CaseWorks on its own, for trials and benchmarks."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from aiohttp import web

from connectors.testing.soap_crm.server import DEFAULT_PASSWORD, DEFAULT_USERNAME, Auth, SoapCrm

DEFAULT_PORT = 8311


def add_command(commands: Any, name: str) -> None:
    """Add the simulator's command to an argparse subparsers action."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help="CaseWorks, a SOAP CRM (document/literal, SOAP 1.1 and 1.2)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--auth", choices=[auth.value for auth in Auth], default=Auth.EITHER)
    parser.add_argument("--username", default=DEFAULT_USERNAME)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds added before every answer"
    )
    parser.add_argument(
        "--fault-rate", type=float, default=0.0, help="share of calls answered with a fault"
    )
    parser.add_argument("--seed", type=int, default=311, help="seed of the fault draws")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    simulator = SoapCrm(
        auth=Auth(args.auth),
        username=args.username,
        password=args.password,
        latency=args.latency,
        fault_rate=args.fault_rate,
        seed=args.seed,
    )
    print(
        f"CaseWorks SOAP CRM: WSDL at http://{args.host}:{args.port}/?wsdl, "
        f"user {args.username} (auth: {args.auth})",
        file=sys.stderr,
        flush=True,
    )
    web.run_app(simulator.app, host=args.host, port=args.port, access_log=None, print=None)
    return 0
