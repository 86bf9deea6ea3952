"""A second gateway on loopback: the upstream Open311 server of the open311 connector's tests.

It is the real gateway on the embedded default (a SQLite ticketing database), served
over TCP by aiohttp's test server, so the connector talks HTTP to it as to any server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from connectors.upstream import UpstreamConnector
from gateway.embedded import KEY_ENV, embedded_config
from gateway.runtime import Runtime
from mappings import mapping_path

from loopback import GatewayTestServer

UPSTREAM_KEY = "upstream-key-0123456789"
FEDERATION = mapping_path("examples/federation.yaml")


async def upstream_gateway(
    aiohttp_client: Any, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, Runtime]:
    """A started gateway on the embedded default in `folder`: its base URL and runtime."""
    monkeypatch.setenv(KEY_ENV, UPSTREAM_KEY)
    config, minted = embedded_config(folder, "http://upstream.test")
    assert minted is None
    runtime = Runtime(config)
    client: TestClient = await aiohttp_client(GatewayTestServer(runtime))
    return str(client.make_url("")).rstrip("/"), runtime


def upstream_connector(
    url: str, fmt: str = "json", *, timeout: float = 5.0, **settings: Any
) -> UpstreamConnector:
    """A connector (not started) to the upstream at `url`, with its api_key."""
    chosen = {"endpoint": url, "format": fmt, "api_key": UPSTREAM_KEY, **settings}
    return UpstreamConnector(chosen, {}, timeout=timeout)
