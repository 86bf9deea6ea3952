"""deploy/examples/postgres.yaml: checked by the CLI, and served against a throwaway
PostgreSQL database, whose legacy tables it creates."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from gateway.cli import main
from gateway.config import load_config
from gateway.runtime import Runtime

from legacy import count, open311_round_trip
from loopback import GatewayTestServer
from services import postgres_database

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "postgres.yaml"
API_KEY = "deploy-example-key-0123"


def test_check_accepts_it_with_its_variables_set(monkeypatch, capsys) -> None:
    monkeypatch.setenv("OPEN311_API_KEY", API_KEY)
    monkeypatch.setenv("BACKEND_URL", "postgresql://tickets@db.example:5432/tickets")
    assert main(["check", "--config", str(EXAMPLE)]) == 0
    assert "OK (1 jurisdictions)" in capsys.readouterr().out


def test_check_names_the_missing_backend_url(monkeypatch, capsys) -> None:
    monkeypatch.setenv("OPEN311_API_KEY", API_KEY)
    monkeypatch.delenv("BACKEND_URL", raising=False)
    assert main(["check", "--config", str(EXAMPLE)]) == 2
    assert "environment variable BACKEND_URL is not set" in capsys.readouterr().err


async def test_serves_the_legacy_schema_it_creates(
    aiohttp_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with postgres_database() as url:
        monkeypatch.setenv("OPEN311_API_KEY", API_KEY)
        monkeypatch.setenv("BACKEND_URL", url)
        config = load_config(EXAMPLE)
        config.gateway.store_url = f"sqlite:///{tmp_path / 'gateway.db'}"
        config.gateway.queue_url = f"sqlite:///{tmp_path / 'queue.db'}"
        [jurisdiction] = config.jurisdictions
        assert jurisdiction.connector.settings["create_schema"] is True
        client: TestClient = await aiohttp_client(GatewayTestServer(Runtime(config)))
        try:
            assert await count(url, "tkt_category") == 4  # made at start, with its codes
            await open311_round_trip(client, url, API_KEY)
        finally:
            await client.close()
