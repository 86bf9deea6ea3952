"""What a connector author tells the conformance kit: the connector, the mapping it is
checked through, sample requests, and how to make the backend fail.

Every check gets a fresh description from the author's `connector_under_test` fixture,
so each runs on a backend of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.base import Capability, Connector, Record
from connectors.registry import connector_class
from gateway.open311.models import NewServiceRequest

HEALTH = "health"
OPERATIONS = (HEALTH, *(capability.value for capability in Capability))
"""The connector's operations by method name: `health` and one per capability."""


@dataclass(frozen=True, slots=True)
class Fault:
    """A way to make the backend fail: it is faulty while `during()` is entered.

    `reaches` names the operations the fault affects (all of them unless said); checks
    of the others are skipped with `unreached_because` as their reason, never passed.
    """

    during: Callable[[], AbstractAsyncContextManager[object]]
    reaches: Collection[str] = OPERATIONS
    unreached_because: str = "the description says the fault does not reach it"

    def __post_init__(self) -> None:
        unknown = sorted(set(self.reaches) - set(OPERATIONS))
        if unknown:
            raise ValueError(
                f"Fault.reaches: {', '.join(unknown)} not among {', '.join(OPERATIONS)}"
            )
        object.__setattr__(self, "reaches", frozenset(self.reaches))


@dataclass(frozen=True, slots=True)
class ConnectorUnderTest:
    """The connector the kit checks, on a fresh backend.

    - `connector`: the class, or the kind it is registered under (entry-point group
      `open311_gateway.connectors`; the mapping names that kind: a class given stands for it).
    - `settings`, `timeout`: what the gateway configuration would give it.
    - `mapping`: the mapping file every check goes through, as the gateway does.
    - `requests`: sample Open311 requests, one per service at least; each must pass the
      checks the edge makes against its service definition.
    - `refuse`: makes a payload the backend rejects from a valid one (PermanentError).
    - `outage`: the backend is down or unreachable while it lasts (TransientError).
    - `stall`: the backend takes calls and never answers while it lasts: calls must give
      up after `fault_timeout`, the timeout of the connector the fault checks use.
    """

    connector: type[Connector] | str
    settings: Mapping[str, Any]
    mapping: str | Path
    requests: Sequence[NewServiceRequest]
    timeout: float = 10.0
    fault_timeout: float = 1.0
    refuse: Callable[[Record], Record] | None = None
    outage: Fault | None = None
    stall: Fault | None = None
    jurisdiction_id: str = "conformance.example"

    def __post_init__(self) -> None:
        if not self.requests:
            raise ValueError("ConnectorUnderTest.requests: give one sample request at least")
        if self.timeout <= 0 or self.fault_timeout <= 0:
            raise ValueError("ConnectorUnderTest: timeouts must be positive")

    def connector_class(self) -> type[Connector]:
        if isinstance(self.connector, str):
            return connector_class(self.connector)
        return self.connector
