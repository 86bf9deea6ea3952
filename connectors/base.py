"""The contract between the gateway and a back office.

A connector is a transport: it knows how to talk to one kind of system and takes and
returns plain backend-shaped records (dicts keyed by the backend's own field names).
What those fields mean is the mapping's business, never the connector's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, ClassVar

from pydantic import BaseModel

Record = dict[str, Any]


class Capability(StrEnum):
    CREATE = "create"
    FIND_BY_REFERENCE = "find_by_reference"
    GET = "get"
    SEARCH = "search"
    UPDATES = "updates"
    POST_UPDATE = "post_update"
    LIST_SERVICES = "list_services"


class ConnectorError(Exception):
    """Base of every error a connector raises; `reason` is safe to show and log."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TransientError(ConnectorError):
    """Timeout, connection failure, 5xx, throttling: the same call may succeed later."""


class PermanentError(ConnectorError):
    """The backend rejected the payload: retrying the same call cannot help."""


class NotFoundError(ConnectorError):
    """The record asked for does not exist in the backend."""


class UnsupportedError(ConnectorError):
    """The connector does not offer this operation (see `capabilities`)."""


@dataclass(frozen=True, slots=True)
class Range:
    """An inclusive-exclusive window `low <= value < high`; either bound may be open."""

    low: Any = None
    high: Any = None


@dataclass(frozen=True, slots=True)
class BackendQuery:
    """A search in backend terms, produced by the mapping from an Open311 query.

    `ids` overrides every other filter; `any_of` maps a backend field to the values it
    may take; `ranges` bounds a field; results come newest first by `order_by`.
    """

    ids: tuple[str, ...] = ()
    any_of: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    ranges: Mapping[str, Range] = field(default_factory=dict)
    order_by: str | None = None
    limit: int = 1000


class Connector:
    """Base of every connector. Subclasses override the operations they declare.

    `settings` is the connector's own section of the configuration (addresses,
    credentials, pool sizes); `schema` is the backend description from the mapping
    file (tables, operations, field names). Every call must finish within `timeout`
    seconds or raise `TransientError`.
    """

    kind: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    schema_model: ClassVar[type[BaseModel] | None] = None
    """A pydantic model of the mapping's `backend` section: when set, a mapping file is
    checked against it on load, with file, line and key in every message."""

    def __init__(self, settings: Mapping[str, Any], schema: Mapping[str, Any], *, timeout: float):
        self.settings = settings
        self.schema = schema
        self.timeout = timeout

    @classmethod
    def capabilities_for(cls, schema: Mapping[str, Any]) -> frozenset[Capability]:
        """What an instance on this backend description offers, known before one is made
        (a mapping is checked against it on load): `capabilities`, unless a connector
        offers more on some backends (a SQL database that describes a services table)."""
        return cls.capabilities

    @cached_property
    def offered(self) -> frozenset[Capability]:
        """What this instance offers, worked out once from its backend description:
        the worker asks on every redelivered job, and some connectors validate the whole
        description to answer."""
        return self.capabilities_for(self.schema)

    def supports(self, capability: Capability) -> bool:
        return capability in self.offered

    async def start(self) -> None:
        """Open pools and sessions; called before the first operation. A start that raises
        (say why in a `ConnectorError`) or outlasts the timeout is retried later."""

    async def close(self) -> None:
        """Release everything `start` opened; also called after a start that failed."""

    async def health(self) -> None:
        """Raise `ConnectorError` when the backend is not reachable."""

    async def create(self, payload: Record, idempotency_key: str) -> Record:
        """Create a record, writing `idempotency_key` into it; return the stored record."""
        raise UnsupportedError(f"{self.kind} connector cannot create records")

    async def find_by_reference(self, idempotency_key: str) -> Record | None:
        """Return the record created with this idempotency key, if any."""
        raise UnsupportedError(f"{self.kind} connector cannot look up by reference")

    async def get(self, ids: Sequence[str]) -> list[Record]:
        """Return the records with these backend ids; unknown ids are left out."""
        raise UnsupportedError(f"{self.kind} connector cannot read records")

    async def search(self, query: BackendQuery) -> list[Record]:
        raise UnsupportedError(f"{self.kind} connector cannot search records")

    async def updates(self, since: datetime, until: datetime) -> list[Record]:
        """Return the changes recorded in `[since, until)`, oldest first."""
        raise UnsupportedError(f"{self.kind} connector has no update history")

    async def post_update(self, payload: Record) -> Record:
        """Add a citizen's update to a record; return the stored change."""
        raise UnsupportedError(f"{self.kind} connector cannot take updates")

    async def list_services(self) -> list[Record]:
        """Return every service record of the backend's catalogue."""
        raise UnsupportedError(f"{self.kind} connector has no service catalogue")
