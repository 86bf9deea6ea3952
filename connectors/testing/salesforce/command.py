"""`open311-gateway simulate salesforce --port P [--certs-dir DIR] [--latency S]`.

Serves the simulator on 127.0.0.1 until Ctrl-C or SIGTERM. `--certs-dir` keeps its
test CA there as `ca.pem` (the connector's `ca_file`), with `jwt-key.pem`, a key the
simulator accepts JWT bearer assertions signed with; without it both live in a
temporary folder for as long as the simulator runs. `--latency` delays every API answer,
as a real org far away would.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any


def add_command(simulators: Any, name: str) -> None:
    """Register the command under `simulate` (`simulators` is its subparsers)."""
    parser: argparse.ArgumentParser = simulators.add_parser(
        name, help="a Salesforce-like REST API over TLS (OAuth, sObjects, SOQL, describe)"
    )
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1 (0: any)")
    parser.add_argument(
        "--certs-dir", type=Path, help="folder to write the test CA (ca.pem) and jwt-key.pem to"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds every API call waits (default 0)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from connectors.testing.salesforce.app import Credentials
    from connectors.testing.salesforce.server import JWT_KEY_FILE, serve, signing_key

    with tempfile.TemporaryDirectory(prefix="salesforce-simulator-") as scratch:
        folder: Path = args.certs_dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        credentials = Credentials(jwt_public_key=signing_key(folder / JWT_KEY_FILE))
        asyncio.run(serve(args.port, folder, credentials, latency=args.latency))
    return 0
