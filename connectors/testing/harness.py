"""One connector under check, driven the way the gateway drives it: through the mapping.

New requests become payloads through `requests.create` and records are read back
through `requests.read`; searches are built by the mapping's `backend_query` from
Open311 filters; updates go through `updates.create` and `updates.read`. So the kit
checks what the gateway really sends and reads, not what a test happens to pass.

Every connector call is bounded: one that does not return within `patience` of its
timeout fails the check as hung, instead of hanging the test run.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from pydantic import BaseModel

from connectors.base import Capability, Connector, ConnectorError, Record, TransientError
from connectors.testing.described import HEALTH, ConnectorUnderTest, Fault
from gateway.catalogue import Catalogue
from gateway.mapping import CompiledMapping, MappingContext, MappingError, load_mapping
from gateway.open311.errors import Open311Error
from gateway.open311.models import (
    NewRequestUpdate,
    NewServiceRequest,
    RequestQuery,
    RequestUpdate,
    ServiceRequest,
    UpdateStatus,
)
from gateway.open311.validate import validate_against_definition

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=ConnectorError)

SEED_SIZE = 4
"""Records the search checks compare with: enough for a date window that leaves one
out on each side."""


RECOVERY_ATTEMPTS = 3
"""Calls a connector gets to show it works again after an outage."""


def patience(timeout: float) -> float:
    """How long a call may take before the kit calls it hung: generous on a busy
    machine, never a measure of speed."""
    return max(5 * timeout, timeout + 5)


async def within(awaitable: Awaitable[T], seconds: float, what: str) -> T:
    """`awaitable`'s result; a check failure when it runs past `patience(seconds)`, for
    a connector whose timeout is `seconds`."""
    limit = patience(seconds)
    scope = asyncio.timeout(limit)
    try:
        async with scope:
            return await awaitable
    except TimeoutError:
        if not scope.expired():
            raise
        pytest.fail(
            f"{what} did not return within {limit:g} s: a connector must give up after "
            f"its timeout ({seconds:g} s) and raise TransientError",
            pytrace=False,
        )


def new_key() -> str:
    """An idempotency key (or a citizen's update id) no other check uses."""
    return f"conformance-{secrets.token_hex(8)}"


def unknown_ids(known: Iterable[str]) -> tuple[str, ...]:
    """Ids of no record: a number past every known one, and a word."""
    numbers = [int(value) for value in known if value.isdigit()]
    return (str(max(numbers, default=0) + 1000), f"no-such-request-{secrets.token_hex(4)}")


def ids(requests: Iterable[ServiceRequest | RequestUpdate]) -> list[str]:
    """The ids of requests or updates, sorted, for comparing sets in messages."""
    return sorted(
        item.service_request_id if isinstance(item, ServiceRequest) else item.update_id
        for item in requests
    )


class Clock:
    """The `context.now` of each mapped call: whole seconds a minute apart from an hour
    ago, so records and changes have times of their own and lie in the past."""

    def __init__(self) -> None:
        self._start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        self._ticks = 0

    def tick(self) -> datetime:
        self._ticks += 1
        return self._start + timedelta(minutes=self._ticks)

    def window(self) -> tuple[datetime, datetime]:
        """A window holding every change of the check, also those a backend stamps
        with its own clock."""
        return self._start - timedelta(days=1), datetime.now(UTC) + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Created:
    key: str
    """The idempotency key it was created with."""
    request: ServiceRequest
    """The record `create` returned, read through the mapping."""

    @property
    def id(self) -> str:
        return self.request.service_request_id


def accepted(
    requests: Sequence[NewServiceRequest], mapping: CompiledMapping
) -> list[NewServiceRequest]:
    """The sample requests as the edge accepts them: checked and normalised against
    their service's definition, when the mapping's catalogue has one."""
    catalogue = Catalogue(mapping.services, mapping.definitions)
    checked = []
    for number, request in enumerate(requests, start=1):
        if mapping.backend_catalogue is None or catalogue.has(request.service_code):
            try:
                definition = catalogue.definition(request.service_code)
                request = validate_against_definition(request, definition)
            except Open311Error as error:
                raise ValueError(
                    f"sample request {number} ({request.service_code}) would be refused at "
                    f"the edge: {error}"
                ) from None
        checked.append(request)
    return checked


def _compiled(described: ConnectorUnderTest) -> CompiledMapping:
    """The mapping file compiled once per version, through the connector described when
    it is given as a class (installed or not): the checks share it."""
    path = Path(described.mapping).resolve()
    given = described.connector if isinstance(described.connector, type) else None
    return _compiled_version(path, path.stat().st_mtime_ns, given)


@functools.cache
def _compiled_version(
    path: Path, _modified: int, connector: type[Connector] | None
) -> CompiledMapping:
    return load_mapping(path, connector=connector)


def _read_back(read: Callable[[Record], M], record: Record, returned: str) -> M:
    """`read(record)`: the record through its mapping section, or a check failure."""
    try:
        return read(record)
    except MappingError as error:
        pytest.fail(
            f"{returned} returned does not read back through its mapping: {error}", pytrace=False
        )


def inner_window(times: Iterable[datetime]) -> tuple[datetime, datetime]:
    """From the second time to the last: a window that leaves out a time on each side
    when it starts included and ends excluded."""
    ordered = sorted(set(times))
    return ordered[min(1, len(ordered) - 1)], ordered[-1]


@asynccontextmanager
async def started(
    described: ConnectorUnderTest, mapping: CompiledMapping, seconds: float
) -> AsyncIterator[Connector]:
    """The connector with a timeout of `seconds`, as the gateway makes it from the
    configuration and the mapping."""
    cls = described.connector_class()
    connector = cls(described.settings, mapping.backend, timeout=seconds)
    await within(connector.start(), seconds, "start")
    try:
        yield connector
    finally:
        await within(connector.close(), seconds, "close")


class Kit:
    """A started connector on a fresh backend, its mapping, and the calls the checks
    make through both."""

    def __init__(
        self,
        described: ConnectorUnderTest,
        mapping: CompiledMapping,
        connector: Connector,
        requests: Sequence[NewServiceRequest],
    ) -> None:
        self.described = described
        self.mapping = mapping
        self.connector = connector
        self.requests = tuple(requests)
        """The sample requests, as the edge accepts them."""
        self.clock = Clock()
        self.capabilities = connector.capabilities_for(mapping.backend)

    @classmethod
    @asynccontextmanager
    async def opened(cls, described: ConnectorUnderTest) -> AsyncIterator[Kit]:
        mapping = await asyncio.to_thread(_compiled, described)
        requests = accepted(described.requests, mapping)
        async with started(described, mapping, described.timeout) as connector:
            yield cls(described, mapping, connector, requests)

    def short_timeout_connector(self) -> AbstractAsyncContextManager[Connector]:
        """A second connector on the same backend, with `fault_timeout`: the fault
        checks wait that long, not the normal timeout, for each call."""
        return started(self.described, self.mapping, self.described.fault_timeout)

    # -- what a check needs, or else it is skipped with the reason

    def require(self, *capabilities: Capability) -> None:
        missing = [c.value for c in capabilities if c not in self.capabilities]
        if missing:
            pytest.skip(
                f"the connector does not offer {', '.join(missing)} on this backend "
                "(test_operation_matches_its_declaration checks that it says so)"
            )

    def require_update_mapping(self) -> None:
        if not self.mapping.writes_updates or not self.mapping.reads_updates:
            pytest.skip(
                "the mapping lacks updates.create or updates.read: the gateway cannot "
                "post citizens' updates through it"
            )

    def require_update_reading(self) -> None:
        if not self.mapping.reads_updates:
            pytest.skip("the mapping has no updates.read: the gateway serves no updates")

    @property
    def posts_updates(self) -> bool:
        """Whether the gateway can post citizens' updates through this connector and mapping."""
        return (
            Capability.POST_UPDATE in self.capabilities
            and self.mapping.writes_updates
            and self.mapping.reads_updates
        )

    async def prepare_fault(self, name: str, operation: str) -> tuple[Fault, Created | None]:
        """The described fault that reaches `operation` (or a skip saying why not), and
        the record a call of it addresses, made before the fault."""
        fault: Fault | None = getattr(self.described, name)
        if operation != HEALTH:
            self.require(Capability(operation))
        if fault is None:
            pytest.skip(
                f"no {name} described: give ConnectorUnderTest.{name} a Fault that makes "
                "the backend fail"
            )
        if operation not in fault.reaches:
            pytest.skip(f"the {name} does not reach {operation}: {fault.unreached_because}")
        if operation == Capability.POST_UPDATE:
            self.require(Capability.CREATE)
            self.require_update_mapping()
        return fault, await self.existing()

    # -- calls, bounded in time

    async def call(self, awaitable: Awaitable[T], what: str) -> T:
        """`awaitable`'s result, bounded by the described connector's timeout; a connector
        error fails the check."""
        try:
            return await within(awaitable, self.described.timeout, what)
        except ConnectorError as error:
            pytest.fail(f"{what} raised {type(error).__name__}: {error.reason}", pytrace=False)

    async def expect(
        self,
        kind: type[E],
        awaitable: Awaitable[object],
        what: str,
        *,
        seconds: float | None = None,
    ) -> E:
        """The error `awaitable` must raise; a check failure naming what it did instead."""
        try:
            await within(awaitable, seconds or self.described.timeout, what)
        except kind as error:
            assert isinstance(error.reason, str) and error.reason, (
                f"{what} raised {kind.__name__} without a reason to show the client"
            )
            return error
        except Exception as error:
            pytest.fail(
                f"{what} must raise {kind.__name__}; it raised {type(error).__name__}: {error}",
                pytrace=False,
            )
        pytest.fail(f"{what} must raise {kind.__name__}; it returned", pytrace=False)

    async def fail_in_outage(
        self, connector: Connector, operation: str, existing: Created | None
    ) -> None:
        """`operation` twice during an outage, each a TransientError: the first call may
        meet a connection the connector had open, the next must find the backend gone."""
        for attempt in ("first", "next"):
            await self.expect(
                TransientError,
                self.invoke(connector, operation, existing),
                f"the {attempt} {operation} during an outage",
                seconds=self.described.fault_timeout,
            )

    async def works_again(
        self, connector: Connector, operation: str, existing: Created | None
    ) -> None:
        """`operation` succeeds once an outage is over. Its connector has the short
        `fault_timeout`, which a busy machine may miss once: a transient failure is
        tried again, a few times at most, as the gateway would."""
        seconds = self.described.fault_timeout
        failures: list[str] = []
        while len(failures) < RECOVERY_ATTEMPTS:
            try:
                await within(self.invoke(connector, operation, existing), seconds, operation)
                return
            except TransientError as failure:
                failures.append(failure.reason)
        pytest.fail(
            f"{operation} failed {len(failures)} times once the outage was over: "
            f"{'; '.join(failures)}",
            pytrace=False,
        )

    # -- through the mapping

    def context(self, key: str) -> MappingContext:
        return MappingContext(self.described.jurisdiction_id, key, self.clock.tick())

    def payload(self, request: NewServiceRequest, key: str) -> Record:
        return self.mapping.create_payload(request, self.context(key))

    def update_payload(self, service_request_id: str, status: UpdateStatus) -> Record:
        context = self.context(new_key())
        update = NewRequestUpdate(
            service_request_id=service_request_id,
            update_id=context.idempotency_key,
            status=status,
            updated_datetime=context.now,
            # Each change says something of its own: a backend that stamps changes
            # in whole seconds could otherwise return two that read the same.
            description=f"Checked by the connector conformance kit ({context.idempotency_key})",
        )
        return self.mapping.update_payload(update, context)

    def read(self, record: Record, operation: str) -> ServiceRequest:
        return _read_back(self.mapping.service_request, record, f"a record {operation}")

    def read_update(self, record: Record, operation: str) -> RequestUpdate:
        return _read_back(self.mapping.request_update, record, f"a change {operation}")

    async def create(self, request: NewServiceRequest | None = None) -> Created:
        key = new_key()
        payload = self.payload(request or self.requests[0], key)
        record = await self.call(self.connector.create(payload, key), "create")
        return Created(key, self.read(record, "create"))

    async def find_by_reference(self, key: str) -> ServiceRequest | None:
        record = await self.call(self.connector.find_by_reference(key), "find_by_reference")
        return None if record is None else self.read(record, "find_by_reference")

    async def get(self, wanted: Sequence[str]) -> list[ServiceRequest]:
        records = await self.call(self.connector.get(list(wanted)), "get")
        return [self.read(record, "get") for record in records]

    async def search(self, query: RequestQuery) -> list[ServiceRequest]:
        backend_query = self.mapping.backend_query(query)
        records = await self.call(self.connector.search(backend_query), "search")
        return [self.read(record, "search") for record in records]

    async def updates(self, since: datetime, until: datetime) -> list[RequestUpdate]:
        records = await self.call(self.connector.updates(since, until), "updates")
        return [self.read_update(record, "updates") for record in records]

    async def post_update(self, service_request_id: str, status: UpdateStatus) -> RequestUpdate:
        payload = self.update_payload(service_request_id, status)
        record = await self.call(self.connector.post_update(payload), "post_update")
        return self.read_update(record, "post_update")

    # -- data the checks compare with

    async def seed(self) -> list[Created]:
        """Records of every sample service at times of their own; when the gateway can
        post updates, one of them closed by a citizen and another commented on."""
        self.require(Capability.CREATE)
        count = max(SEED_SIZE, len(self.requests) + 1)
        samples = [self.requests[number % len(self.requests)] for number in range(count)]
        created = [await self.create(sample) for sample in samples]
        if self.posts_updates:
            await self.post_update(created[1].id, UpdateStatus.CLOSED)
            await self.post_update(created[2].id, UpdateStatus.OPEN)
        return created

    async def seeded_requests(self) -> list[ServiceRequest]:
        """The seeded records as a search without filters finds them, which must be
        every one of them: the filter checks compare with these."""
        self.require(Capability.SEARCH)
        created = await self.seed()
        everything = await self.search(RequestQuery())
        assert ids(everything) == sorted(record.id for record in created), (
            "a search without filters must find every record: "
            f"created {sorted(record.id for record in created)}, found {ids(everything)}"
        )
        return everything

    async def seeded_changes(self) -> list[RequestUpdate]:
        """Every change the seeded records made, in a window that holds them all; a
        skip when the kit cannot make the backend record any."""
        self.require(Capability.UPDATES)
        self.require_update_reading()
        if Capability.CREATE in self.capabilities:
            await self.seed()
        changes = await self.updates(*self.clock.window())
        if not changes and not self.posts_updates:
            pytest.skip(
                "the backend recorded no change the kit could make: the connector takes "
                "no updates, and creating records left none"
            )
        assert changes, "updates must return the changes that post_update made"
        return changes

    async def existing(self) -> Created | None:
        """A record the fault and declaration checks address; None when the connector
        cannot create one."""
        return await self.create() if Capability.CREATE in self.capabilities else None

    async def invoke(
        self, connector: Connector, operation: str, existing: Created | None
    ) -> object:
        """A plausible call of `operation` on `connector`, about `existing` if given."""
        target = existing.id if existing is not None else unknown_ids(())[0]
        match operation:
            case "health":
                return await connector.health()
            case Capability.CREATE:
                key = new_key()
                return await connector.create(self.payload(self.requests[0], key), key)
            case Capability.FIND_BY_REFERENCE:
                key = existing.key if existing is not None else new_key()
                return await connector.find_by_reference(key)
            case Capability.GET:
                return await connector.get([target])
            case Capability.SEARCH:
                return await connector.search(self.mapping.backend_query(RequestQuery()))
            case Capability.UPDATES:
                return await connector.updates(*self.clock.window())
            case Capability.POST_UPDATE:
                update = (
                    self.update_payload(target, UpdateStatus.OPEN)
                    if self.mapping.writes_updates
                    else {}
                )
                return await connector.post_update(update)
            case Capability.LIST_SERVICES:
                return await connector.list_services()
        raise ValueError(f"no operation '{operation}'")
