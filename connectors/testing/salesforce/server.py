"""Running the simulator: HTTPS on loopback with a certificate from a test CA.

`running_salesforce()` serves it from a thread of its own (its own event loop), so a
test, a kit fixture or a benchmark can use it from synchronous or asynchronous code
and the simulator's work never lands on the caller's event loop:

    with running_salesforce() as salesforce:
        settings = {"instance_url": salesforce.url, "ca_file": str(salesforce.ca_file), ...}
        salesforce.knobs.fail_next(2, "limit")
        salesforce.simulator.queries()  # the SOQL received

`serve()` runs it in the foreground (the `simulate salesforce` command).
"""

from __future__ import annotations

import asyncio
import signal
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.testing.salesforce.app import Credentials, Knobs, SalesforceSimulator
from connectors.testing.salesforce.org import Org

HOST = "127.0.0.1"
CA_FILE = "ca.pem"
JWT_KEY_FILE = "jwt-key.pem"
_START_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class RunningSimulator:
    url: str
    """The instance URL: https://127.0.0.1:PORT."""
    ca_file: Path
    """The test CA to trust (PEM)."""
    simulator: SalesforceSimulator

    @property
    def knobs(self) -> Knobs:
        return self.simulator.knobs

    @property
    def org(self) -> Org:
        return self.simulator.org


def server_context(certs_dir: Path) -> ssl.SSLContext:
    """A server certificate for the loopback names from a fresh test CA, whose
    certificate is written to `certs_dir/ca.pem`."""
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(certs_dir / CA_FILE))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(HOST, "localhost").configure_cert(context)
    return context


def signing_key(path: Path) -> bytes:
    """A new RSA key for JWT bearer assertions, written to `path`; its public key (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


async def _listen(
    simulator: SalesforceSimulator, context: ssl.SSLContext, host: str, port: int
) -> web.AppRunner:
    runner = web.AppRunner(simulator.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=context)
    await site.start()
    bound = runner.addresses[0][1]
    simulator.instance_url = f"https://{host}:{bound}"
    return runner


@contextmanager
def running_salesforce(
    *,
    port: int = 0,
    certs_dir: Path | None = None,
    credentials: Credentials | None = None,
    org: Org | None = None,
    page_size: int = 2000,
) -> Iterator[RunningSimulator]:
    """The simulator serving on loopback (`port` 0: any free port) until the block ends."""
    simulator = SalesforceSimulator(org, credentials, page_size=page_size)
    with tempfile.TemporaryDirectory(prefix="salesforce-simulator-") as scratch:
        folder = certs_dir or Path(scratch)
        context = server_context(folder)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="salesforce-simulator")
        thread.start()
        try:
            started = asyncio.run_coroutine_threadsafe(
                _listen(simulator, context, HOST, port), loop
            )
            runner = started.result(_START_SECONDS)
            try:
                yield RunningSimulator(simulator.instance_url, folder / CA_FILE, simulator)
            finally:
                asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(_START_SECONDS)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()


async def serve(
    port: int, certs_dir: Path, credentials: Credentials, *, latency: float = 0.0
) -> None:
    """Serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    simulator = SalesforceSimulator(credentials=credentials)
    simulator.knobs.latency = latency
    runner = await _listen(simulator, server_context(certs_dir), HOST, port)
    print(f"Salesforce simulator on {simulator.instance_url}", flush=True)
    print(f"  trust the CA in {certs_dir / CA_FILE}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
