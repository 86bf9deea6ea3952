"""A backend whose service list a test writes, and whose failures a test triggers.

`ScriptedConnector` is a real connector registered (for the test's duration) under the
kind `scripted`, so mappings naming it load and runtimes build it like any other.
`ManualSleep` stands in for `asyncio.sleep`, so a test moves the refresh clock.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import pytest

from connectors import registry
from connectors.base import (
    BackendQuery,
    Capability,
    Connector,
    PermanentError,
    Record,
    TransientError,
)
from gateway import apikeys
from gateway.config import (
    Config,
    ConnectorConfig,
    GatewayConfig,
    JurisdictionConfig,
    WorkerConfig,
)

from mappingfiles import write

KIND = "scripted"

MAPPING = f"""\
connector: {KIND}
services:
  from_backend:
    refresh: 30
    read:
      service_code: code
      service_name: title
      group: area
      keywords: tags
  overrides:
    POT:
      service_name: Pothole
      group: Roads
      groups: [Roads, Pavements]
      add_keywords: [staff]
      attributes:
        - {{code: depth, datatype: number, required: true, order: 1, description: How deep?}}
        - code: asset
          datatype: string
          required: true
          order: 2
          description: Asset id
          automated: server_set
    GONE:
      hide: true
    LATER:
      service_name: Comes later
requests:
  create:
    kind: service_code
  read:
    service_request_id: id
    status: {{from: state, default: open}}
    service_code: kind
    requested_datetime: at
"""
"""A mapping on the scripted backend, with every kind of override; its tickets are
plain records. LATER's override waits for a service the backend lists later."""

POT = {"code": "POT", "title": "Hole in road", "area": "Highways", "tags": ["road"]}
DOG = {"code": "DOG", "title": "Dog fouling", "area": "Cleaning", "tags": []}
GONE = {"code": "GONE", "title": "Retired", "area": "Highways", "tags": []}
LATER = {"code": "LATER", "title": "New service", "area": "Parks", "tags": []}


class ScriptedConnector(Connector):
    """Lists `services` and searches `tickets`; every call raises `failure` when one is
    set, and `list_services` never answers while `hang` is set (the caller's timeout
    ends it). The `down` setting starts it failing; the `unstartable` one makes `start`
    raise `start_failure` until a test clears it.

    `create` appends a ticket to `tickets` (with the key under `reference`), after
    `create_seconds` (a setting); it refuses with `refusal` when one is set, and fails
    transiently while `failing_creates` is above zero (counting down). It is not
    idempotent on the key, so `references()` shows every duplicate."""

    kind: ClassVar[str] = KIND
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.LIST_SERVICES,
            Capability.SEARCH,
            Capability.CREATE,
            Capability.FIND_BY_REFERENCE,
        }
    )

    def __init__(self, settings: Mapping[str, Any], schema: Mapping[str, Any], *, timeout: float):
        super().__init__(settings, schema, timeout=timeout)
        self.services: list[Record] = list(settings.get("services", []))
        self.tickets: list[Record] = list(settings.get("tickets", []))
        self.failure: Exception | None = (
            TransientError("the scripted backend is down") if settings.get("down") else None
        )
        self.hang = False
        self.start_failure: Exception | None = (
            TransientError("the scripted backend refuses connections")
            if settings.get("unstartable")
            else None
        )
        self.create_seconds = float(settings.get("create_seconds", 0))
        self.refusal: str | None = None
        self.failing_creates = 0
        self.calls: Counter[str] = Counter()
        self._ids = itertools.count(len(self.tickets) + 1)

    async def start(self) -> None:
        if self.start_failure is not None:
            raise self.start_failure

    async def health(self) -> None:
        self._answer()

    async def list_services(self) -> list[Record]:
        if self.hang:
            await asyncio.Event().wait()
        self._answer()
        return [dict(service) for service in self.services]

    async def search(self, query: BackendQuery) -> list[Record]:
        self._answer()
        return [dict(ticket) for ticket in self.tickets]

    async def create(self, payload: Record, idempotency_key: str) -> Record:
        self.calls["create"] += 1
        self._answer()
        if self.create_seconds:
            await asyncio.sleep(self.create_seconds)
        if self.refusal is not None:
            raise PermanentError(self.refusal)
        if self.failing_creates > 0:
            self.failing_creates -= 1
            raise TransientError("the scripted backend timed out")
        ticket = {
            **payload,
            "id": next(self._ids),
            "reference": idempotency_key,
            "at": datetime.now(UTC).isoformat(),
        }
        self.tickets.append(ticket)
        return dict(ticket)

    async def find_by_reference(self, idempotency_key: str) -> Record | None:
        self.calls["find_by_reference"] += 1
        self._answer()
        found = [t for t in self.tickets if t.get("reference") == idempotency_key]
        return dict(found[0]) if found else None

    def references(self) -> Counter[str]:
        """How many tickets each idempotency key made."""
        return Counter(t["reference"] for t in self.tickets if "reference" in t)

    def _answer(self) -> None:
        if self.failure is not None:
            raise self.failure


def write_mapping(folder: Path) -> Path:
    return write(folder, MAPPING)


def scripted_config(
    folder: Path,
    api_key: str,
    *,
    worker: WorkerConfig | None = None,
    connector: Mapping[str, Any] | None = None,
    **jurisdiction: Any,
) -> Config:
    """A gateway whose one jurisdiction, `city`, is on the scripted backend listing POT and
    DOG, with its store and queue in `folder`."""
    return Config(
        gateway=GatewayConfig(
            store_url=f"sqlite:///{folder / 'gateway.db'}", worker=worker or WorkerConfig()
        ),
        jurisdictions=[
            JurisdictionConfig(
                id="city",
                mapping=write_mapping(folder),
                api_keys=[apikeys.hash_key(api_key)],
                connector=ConnectorConfig(
                    **{"settings": {"services": [POT, DOG]}, **(connector or {})}
                ),
                **jurisdiction,
            )
        ],
    )


def register(
    monkeypatch: pytest.MonkeyPatch, kind: str = KIND, value: str = f"{__name__}:ScriptedConnector"
) -> None:
    """Install `value` (by default `ScriptedConnector`) as the entry point of `kind`, beside
    the real ones and those registered before."""
    installed = registry.available()
    entry = EntryPoint(kind, value, registry.GROUP)
    monkeypatch.setattr(registry, "available", lambda: {**installed, kind: entry})


class ManualSleep:
    """Stands in for `asyncio.sleep`: records each delay and returns when the test says."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._asleep: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()
        self._sleeper: asyncio.Future[None] | None = None

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        wake = asyncio.get_running_loop().create_future()
        self._asleep.put_nowait(wake)
        await wake

    async def round(self) -> None:
        """Wake the sleeper and return once it has done its round and sleeps again."""
        await self.wake()
        self._sleeper = await self._asleep.get()

    async def wake(self) -> None:
        """Wake the sleeper (once it sleeps), for a round after which it sleeps no more."""
        sleeper = self._sleeper or await self._asleep.get()
        self._sleeper = None
        sleeper.set_result(None)
