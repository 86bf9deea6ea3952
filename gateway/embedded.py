"""The embedded default: a complete gateway with no configuration and no external service.

A SQLite ticketing database, the gateway's store and its queue live in a data folder
(`OPEN311_DATA_DIR`, default `./open311-data`), created on first start.
"""

from __future__ import annotations

import os
from pathlib import Path

from gateway import apikeys
from gateway.config import Config, ConnectorConfig, GatewayConfig, JurisdictionConfig
from mappings import mapping_path

JURISDICTION_ID = "example.city"
KEY_ENV = "OPEN311_API_KEY"


def data_dir() -> Path:
    return Path(os.environ.get("OPEN311_DATA_DIR", "open311-data")).resolve()


def store_url(folder: Path) -> str:
    """The gateway's store in the data folder; the embedded queue lives in the same file."""
    return f"sqlite:///{folder / 'gateway.db'}"


def embedded_config(folder: Path, base_url: str) -> tuple[Config, str | None]:
    """The default configuration, and a newly minted API key to print once (else None).

    The key comes from `OPEN311_API_KEY`; when that is unset a key is minted on first
    start and only its hash is kept in the data folder.
    """
    folder.mkdir(parents=True, exist_ok=True)
    minted = None
    if os.environ.get(KEY_ENV):
        key_hash = apikeys.hash_key(os.environ[KEY_ENV])
    else:
        hash_file = folder / "api-key.hash"
        if not hash_file.exists():
            minted = apikeys.mint_key()
            hash_file.write_text(apikeys.hash_key(minted) + "\n", encoding="utf-8")
            hash_file.chmod(0o600)
        key_hash = hash_file.read_text(encoding="utf-8").strip()
    config = Config(
        gateway=GatewayConfig(
            base_url=base_url,
            store_url=store_url(folder),
            contact="Example City 311, 311@example.city",
            key_service="Run `open311-gateway keys new --jurisdiction example.city`.",
        ),
        jurisdictions=[
            JurisdictionConfig(
                id=JURISDICTION_ID,
                name="Example City",
                mapping=mapping_path("embedded.yaml"),
                api_keys=[key_hash],
                connector=ConnectorConfig(
                    settings={
                        "url": f"sqlite:///{folder / 'tickets.db'}",
                        "create_schema": True,
                    }
                ),
            )
        ],
    )
    return config, minted
