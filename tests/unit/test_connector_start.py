"""Starting a connector: one attempt now, then retries in the background with capped
backoff until it starts; what runs on it starts after it and closes before it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from connectors.base import Connector, TransientError
from gateway.connector_start import NOT_STARTED, ConnectorStarter, failure_reason
from gateway.queue import Backoff

from scripted_backend import ManualSleep


class FlakyConnector(Connector):
    """Fails its first `failures` starts, or never answers while `hang` is set; writes
    each lifecycle call to `events`."""

    kind: ClassVar[str] = "flaky"

    def __init__(self, failures: int = 0, *, hang: bool = False) -> None:
        super().__init__({}, {}, timeout=1.0)
        self.failures = failures
        self.hang = hang
        self.events: list[str] = []

    async def start(self) -> None:
        self.events.append("start")
        if self.hang:
            await asyncio.Event().wait()
        if self.failures:
            self.failures -= 1
            raise TransientError("the backend refused the connection")

    async def close(self) -> None:
        self.events.append("close")


class Dependent:
    def __init__(self, name: str, events: list[str]) -> None:
        self.name = name
        self.events = events

    async def start(self) -> None:
        self.events.append(f"{self.name} start")

    async def close(self) -> None:
        self.events.append(f"{self.name} close")


def starter(connector: Connector, sleep: ManualSleep, **options: Any) -> ConnectorStarter:
    settings: Mapping[str, Any] = {
        "timeout": 1.0,
        "retry": Backoff(base_seconds=1.0, cap_seconds=8.0),
        "sleep": sleep,
        "random": lambda: 0.5,
        **options,
    }
    return ConnectorStarter("city", connector, **settings)


async def test_a_connector_that_starts_runs_its_dependents_and_closes_them_first() -> None:
    connector = FlakyConnector()
    started = starter(connector, ManualSleep())
    refresher = Dependent("refresher", connector.events)
    await started.start([refresher])
    assert started.problem is None
    await started.wait_started()
    await started.close()
    assert connector.events == ["start", "refresher start", "refresher close", "close"]
    assert started.problem == NOT_STARTED


async def test_a_failed_start_is_retried_with_capped_backoff_until_it_starts() -> None:
    connector = FlakyConnector(failures=6)
    sleep = ManualSleep()
    started = starter(connector, sleep)
    await started.start([Dependent("refresher", connector.events)])
    assert started.problem == "the backend refused the connection"
    assert connector.events == ["start", "close"]  # the failed start was released
    for _ in range(5):
        await sleep.round()
        assert started.problem is not None
    await sleep.wake()
    await started.wait_started()
    assert sleep.delays == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert started.problem is None
    assert connector.events[-2:] == ["start", "refresher start"]
    assert connector.events.count("start") == 7
    await started.close()


async def test_the_wait_between_attempts_has_jitter() -> None:
    sleep = ManualSleep()
    started = starter(FlakyConnector(failures=1), sleep, random=lambda: 1.0)
    await started.start()
    await sleep.wake()
    await started.wait_started()
    assert sleep.delays == [pytest.approx(1.1)]
    await started.close()


async def test_a_start_that_never_answers_times_out_and_is_retried() -> None:
    connector = FlakyConnector(hang=True)
    sleep = ManualSleep()
    started = starter(connector, sleep, timeout=0.01)
    await started.start()
    assert started.problem == "did not answer within 0.01 s"
    connector.hang = False
    await sleep.wake()
    await started.wait_started()
    await started.close()
    assert connector.events == ["start", "close", "start", "close"]


async def test_close_stops_the_retries_of_a_connector_that_never_started() -> None:
    connector = FlakyConnector(failures=100)
    sleep = ManualSleep()
    started = starter(connector, sleep)
    refresher = Dependent("refresher", connector.events)
    await started.start([refresher])
    await sleep.round()
    await started.close()
    assert not [task for task in asyncio.all_tasks() if task.get_name() == "connector-start:city"]
    assert "refresher start" not in connector.events
    assert connector.events == ["start", "close", "start", "close"]


def test_reasons_are_the_connectors_own_or_the_error_type_never_its_text() -> None:
    secret = "postgresql://admin:hunter2@db/tickets"
    assert failure_reason(TransientError("the database is down"), 5) == "the database is down"
    assert failure_reason(TimeoutError(), 2.5) == "did not answer within 2.5 s"
    refused = ConnectionRefusedError(111, "Connection refused")
    assert failure_reason(refused, 5) == "ConnectionRefusedError: Connection refused"
    assert failure_reason(ValueError(f"cannot parse {secret}"), 5) == "ValueError"
    assert failure_reason(OSError(secret), 5) == "OSError"
