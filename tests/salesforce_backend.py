"""The Salesforce simulator and connector settings for tests: one fresh org per test."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from aiohttp.test_utils import TestClient

from gateway import apikeys
from gateway.config import (
    BackoffConfig,
    Config,
    ConnectorConfig,
    GatewayConfig,
    JurisdictionConfig,
    WorkerConfig,
)
from gateway.mapping import load_mapping
from gateway.runtime import Runtime
from mappings import mapping_path

from loopback import GatewayTestServer

MAPPING = mapping_path("examples/salesforce.yaml")
CLIENT_CREDENTIALS = {
    "flow": "client_credentials",
    "client_id": "open311-gateway",
    "client_secret": "simulator-secret",
}


class Reachable(Protocol):
    """A running simulator: in a thread of this process, or another process."""

    @property
    def url(self) -> str: ...

    @property
    def ca_file(self) -> Path: ...


def settings(running: Reachable, **overrides: Any) -> dict[str, Any]:
    """The connector's settings for the simulator, trusting its CA."""
    return {
        "instance_url": running.url,
        "ca_file": str(running.ca_file),
        "auth": CLIENT_CREDENTIALS,
        "threads": 4,
        **overrides,
    }


def mapping_variant(path: Path, *changes: tuple[str, str]) -> Path:
    """The example mapping written to `path` with each (old, new) text replaced."""
    text = MAPPING.read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


def schema() -> dict[str, Any]:
    """The backend section of the example mapping."""
    return load_mapping(MAPPING).backend


def gateway_config(
    running: Reachable,
    folder: Path,
    api_key: str,
    *,
    worker: WorkerConfig | None = None,
    threads: int = 4,
    **connector: Any,
) -> Config:
    """One jurisdiction on the example mapping, served against the simulator. By default
    failed deliveries are retried at once, and a POST waits long enough to see them
    through; `connector` changes the connector's configuration (timeout, concurrency)."""
    return Config(
        gateway=GatewayConfig(
            store_url=f"sqlite:///{folder / 'gateway.db'}",
            worker=worker or WorkerConfig(backoff=QUICK_BACKOFF),
        ),
        jurisdictions=[
            JurisdictionConfig(
                id="example.city",
                mapping=MAPPING,
                api_keys=[apikeys.hash_key(api_key)],
                sync_wait=10,
                connector=ConnectorConfig(
                    kind="salesforce",
                    settings=settings(running, threads=threads),
                    **{"timeout": 5, **connector},
                ),
            )
        ],
    )


async def gateway_client(
    aiohttp_client: Any, running: Reachable, folder: Path, api_key: str, **changes: Any
) -> TestClient:
    """A test client of the gateway on `gateway_config`, its jurisdiction changed."""
    config = gateway_config(running, folder, api_key)
    jurisdiction = config.jurisdictions[0]
    config.jurisdictions[0] = jurisdiction.model_copy(update=changes)
    return await aiohttp_client(GatewayTestServer(Runtime(config)))


QUICK_BACKOFF = BackoffConfig(base_seconds=0.01, cap_seconds=0.02, max_attempts=50)
