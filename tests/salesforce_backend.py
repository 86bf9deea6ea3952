"""The Salesforce simulator and connector settings for tests: one fresh org per test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.testing.salesforce import RunningSimulator
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
from mappings import mapping_path

MAPPING = mapping_path("examples/salesforce.yaml")
CLIENT_CREDENTIALS = {
    "flow": "client_credentials",
    "client_id": "open311-gateway",
    "client_secret": "simulator-secret",
}


def settings(running: RunningSimulator, **overrides: Any) -> dict[str, Any]:
    """The connector's settings for the simulator, trusting its CA."""
    return {
        "instance_url": running.url,
        "ca_file": str(running.ca_file),
        "auth": CLIENT_CREDENTIALS,
        "threads": 4,
        **overrides,
    }


def schema() -> dict[str, Any]:
    """The backend section of the example mapping."""
    return load_mapping(MAPPING).backend


def gateway_config(running: RunningSimulator, folder: Path, api_key: str) -> Config:
    """One jurisdiction on the example mapping, served against the simulator; failed
    deliveries are retried at once, and a POST waits long enough to see them through."""
    return Config(
        gateway=GatewayConfig(
            store_url=f"sqlite:///{folder / 'gateway.db'}",
            worker=WorkerConfig(backoff=QUICK_BACKOFF),
        ),
        jurisdictions=[
            JurisdictionConfig(
                id="example.city",
                mapping=MAPPING,
                api_keys=[apikeys.hash_key(api_key)],
                sync_wait=10,
                connector=ConnectorConfig(kind="salesforce", settings=settings(running), timeout=5),
            )
        ],
    )


QUICK_BACKOFF = BackoffConfig(base_seconds=0.01, cap_seconds=0.02, max_attempts=50)
