"""A gateway on the embedded default, in-process, on a fresh data folder per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
from aiohttp.test_utils import TestClient

from gateway import logs
from gateway.config import Config, JurisdictionConfig
from gateway.embedded import embedded_config
from gateway.runtime import Runtime

from clientforms import API_KEY
from loopback import GatewayTestServer


def embedded(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("OPEN311_API_KEY", API_KEY)
    config, minted = embedded_config(folder, "http://gateway.test")
    assert minted is None
    return config


@pytest.fixture
async def client(aiohttp_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    return await aiohttp_client(GatewayTestServer(Runtime(embedded(tmp_path, monkeypatch))))


@pytest.fixture
async def two_cities(aiohttp_client, tmp_path: Path, monkeypatch) -> TestClient:
    """Two jurisdictions, each on its own database: jurisdiction_id becomes required."""
    config = embedded(tmp_path, monkeypatch)
    first = config.jurisdictions[0]
    second = JurisdictionConfig(
        id="other.city",
        mapping=first.mapping,
        api_keys=first.api_keys,
        connector=first.connector.model_copy(
            update={
                "settings": {
                    **first.connector.settings,
                    "url": f"sqlite:///{tmp_path / 'other.db'}",
                }
            }
        ),
    )
    config.jurisdictions.append(second)
    return await aiohttp_client(GatewayTestServer(Runtime(config)))


@pytest.fixture
def json_logs() -> Iterator[Callable[[], None]]:
    """Call it in a test to have the gateway's JSON log lines on the test's captured
    stdout (capsys gives a test another stdout than its set-up had). Loggers stay
    uncached and the defaults come back after the test, so that none keeps writing to
    a stdout that is closed by then."""

    def configure() -> None:
        logs.configure()
        structlog.configure(cache_logger_on_first_use=False)

    yield configure
    structlog.reset_defaults()
