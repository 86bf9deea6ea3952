"""The Salesforce simulator and connector settings for tests: one fresh org per test."""

from __future__ import annotations

from typing import Any

from connectors.testing.salesforce import RunningSimulator
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
