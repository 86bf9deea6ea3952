"""`open311-gateway simulate salesforce`: a process serving the simulator, its CA and
JWT key written where asked, that the connector reaches with each login flow."""

from __future__ import annotations

import asyncio
import select
import signal
import subprocess
import sys
from pathlib import Path

from connectors.salesforce import SalesforceConnector

from salesforce_backend import CLIENT_CREDENTIALS, schema

START_SECONDS = 30.0


def test_the_command_serves_until_sigterm(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    command = [sys.executable, "-m", "gateway", "simulate", "salesforce", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--certs-dir", str(certs)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], START_SECONDS)
        assert ready, "the simulator did not start"
        first = process.stdout.readline()
        assert first.startswith("Salesforce simulator on https://127.0.0.1:")
        url = first.rsplit(" ", 1)[1].strip()
        assert (certs / "ca.pem").is_file() and (certs / "jwt-key.pem").is_file()
        jwt = {
            "flow": "jwt_bearer",
            "client_id": "open311-gateway",
            "username": "integration@example.city",
            "private_key_file": str(certs / "jwt-key.pem"),
            "audience": url,
        }
        for auth in (CLIENT_CREDENTIALS, jwt):
            settings = {"instance_url": url, "ca_file": str(certs / "ca.pem"), "auth": auth}
            connector = SalesforceConnector(settings, schema(), timeout=5)
            assert asyncio.run(services_listed(connector)) == 4
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(START_SECONDS) == 0


async def services_listed(connector: SalesforceConnector) -> int:
    """How many services the connector lists, started and closed around it."""
    await connector.start()
    try:
        return len(await connector.list_services())
    finally:
        await connector.close()
