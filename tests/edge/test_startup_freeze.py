"""`serve`'s gateway keeps what start-up built away from the cyclic collector, once the
runtime has started; a gateway among others (the suite's) does not."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.runtime import Runtime

from conftest import embedded
from loopback import GatewayTestServer


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.parametrize("serves_until_stopped", [True, False])
async def test_start_up_objects_are_frozen_only_for_the_process_gateway(
    aiohttp_client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    unfrozen: None,
    serves_until_stopped: bool,
) -> None:
    runtime = Runtime(embedded(tmp_path, monkeypatch))
    server = GatewayTestServer(runtime, serves_until_stopped=serves_until_stopped)
    client = await aiohttp_client(server)
    assert (gc.get_freeze_count() > 0) == serves_until_stopped
    built_by_start = runtime.store.database  # made when the runtime started
    collectable = any(each is built_by_start for each in gc.get_objects())
    assert collectable != serves_until_stopped
    response = await client.get("/services.json")
    assert response.status == 200
