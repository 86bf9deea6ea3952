"""The SOAP connector: a back office described by a WSDL, reached with zeep's async client.

Records are a message's or a response's element content as nested dicts (see
`connectors.soap.messages`); which WSDL operation serves each connector operation, and
where each value goes, is the mapping's backend section (`connectors.soap.schema`). The
connector offers the operations that section declares. Every call is bounded by the
timeout; faults are typed by the section's rules (`connectors.soap.faults`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import httpx
from lxml import etree
from pydantic import BaseModel, ValidationError
from zeep.exceptions import Fault, TransportError, XMLParseError
from zeep.exceptions import ValidationError as MessageError
from zeep.proxy import AsyncServiceProxy

from connectors.base import (
    BackendQuery,
    Capability,
    Connector,
    ConnectorError,
    NotFoundError,
    PermanentError,
    Record,
    TransientError,
    UnsupportedError,
)
from connectors.redaction import redacted
from connectors.soap.faults import FaultRules, RecordExists
from connectors.soap.messages import (
    found,
    placed,
    put,
    record_at,
    records_at,
    response_record,
    without_gaps,
)
from connectors.soap.schema import CreateOperation, Operation, PostUpdateOperation, SoapSchema
from connectors.soap.settings import SoapSettings
from connectors.soap.transport import BackendTransport, check_answer, close_transport
from connectors.soap.wirelog import WireLog
from connectors.soap.wsdl import bind, check_schema, load_client

Op = TypeVar("Op", bound=Operation)

GET_CONCURRENCY = 8
"""Calls in flight at once when records are read one call each."""


class SoapConnector(Connector):
    kind: ClassVar[str] = "soap"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)
    schema_model: ClassVar[type[BaseModel] | None] = SoapSchema

    @classmethod
    def capabilities_for(cls, schema: Mapping[str, Any]) -> frozenset[Capability]:
        try:
            spec = SoapSchema.model_validate(schema)
        except ValidationError:  # the model reports it: say nothing more
            return cls.capabilities
        return frozenset(spec.operations.declared())

    def __init__(self, settings: Mapping[str, Any], schema: Mapping[str, Any], *, timeout: float):
        super().__init__(settings, schema, timeout=timeout)
        self._settings = SoapSettings.model_validate(settings)
        self._spec = SoapSchema.model_validate(schema)
        self._ops = self._spec.operations
        self._faults = FaultRules(self._spec.faults, self._spec.unclassified_faults)
        self._service: AsyncServiceProxy | None = None
        self._transport: BackendTransport | None = None

    async def start(self) -> None:
        plugins = [WireLog(self._spec.wire_log)]
        try:
            async with asyncio.timeout(self.timeout):
                client, wire = await asyncio.to_thread(
                    load_client, self._settings, self.timeout, plugins
                )
        except TimeoutError:
            raise TransientError(f"the WSDL did not load within {self.timeout:g} s") from None
        try:
            service = bind(client, self._settings)
            check_schema(service, self._spec)
        except BaseException:
            await close_transport(wire)
            raise
        self._service, self._transport = service, wire

    async def close(self) -> None:
        if self._transport is not None:
            await close_transport(self._transport)
        self._service = self._transport = None

    async def health(self) -> None:
        """The service address answers HTTP (any answer but a 5xx, 408 or 429)."""
        service = self._started()
        assert self._transport is not None
        try:
            response = await self._transport.client.get(service._binding_options["address"])
        except httpx.HTTPError as exc:
            raise TransientError(
                f"the SOAP back office could not be reached ({type(exc).__name__})"
            ) from None
        if response.status_code in (408, 429) or response.status_code >= 500:
            check_answer(response)

    async def create(self, payload: Record, idempotency_key: str) -> Record:
        spec = _declared(self._ops.create, Capability.CREATE)
        message = placed(payload, spec.payload)
        put(message, spec.reference, idempotency_key)
        try:
            response = await self._call(spec, message)
        except RecordExists as exists:
            record = await self.find_by_reference(idempotency_key)
            if record is None:
                raise PermanentError(exists.reason) from None
            return record
        return self._one(spec, response)

    async def find_by_reference(self, idempotency_key: str) -> Record | None:
        spec = _declared(self._ops.find_by_reference, Capability.FIND_BY_REFERENCE)
        message: Record = {}
        put(message, spec.reference, idempotency_key)
        return record_at(await self._call(spec, message), spec.result)

    async def get(self, ids: Sequence[str]) -> list[Record]:
        spec = _declared(self._ops.get, Capability.GET)
        if not ids:
            return []
        if spec.ids is not None:
            message: Record = {}
            put(message, spec.ids, list(ids))
            return records_at(await self._call(spec, message), spec.result)
        turns = asyncio.Semaphore(GET_CONCURRENCY)

        async def one(record_id: str) -> Record | None:
            message: Record = {}
            put(message, spec.id, record_id)
            async with turns:
                try:
                    return record_at(await self._call(spec, message), spec.result)
                except NotFoundError:
                    return None

        found = await asyncio.gather(*(one(record_id) for record_id in dict.fromkeys(ids)))
        return [record for record in found if record is not None]

    async def search(self, query: BackendQuery) -> list[Record]:
        spec = _declared(self._ops.search, Capability.SEARCH)
        if query.ids and spec.ids is None:
            return (await self.get(query.ids))[: query.limit]
        message: Record = {}
        if query.ids:
            put(message, spec.ids, list(query.ids))
        else:
            for field, values in query.any_of.items():
                if not values:
                    return []  # no backend value reads as what was asked for
                put(message, _searched(spec.any_of, field, "any_of"), list(values))
            for field, bounds in query.ranges.items():
                where = _searched(spec.ranges, field, "ranges")
                for value, path, side in (
                    (bounds.low, where.low, "low"),
                    (bounds.high, where.high, "high"),
                ):
                    if value is None:
                        continue
                    if path is None:
                        raise PermanentError(
                            f"search cannot bound {field} ({side}): the backend section "
                            f"gives no path for it under ranges.{field}.{side}"
                        )
                    put(message, path, value)
        if spec.limit is not None:
            put(message, spec.limit, query.limit)
        records = records_at(await self._call(spec, message), spec.result)
        return records[: query.limit]

    async def updates(self, since: datetime, until: datetime) -> list[Record]:
        spec = _declared(self._ops.updates, Capability.UPDATES)
        message: Record = {}
        put(message, spec.since, since)
        if spec.until is not None:
            put(message, spec.until, until)
        changes = records_at(await self._call(spec, message), spec.result)
        if spec.time is None:
            return changes
        timed = [(_utc(found(change, spec.time)), change) for change in changes]
        kept = [(at, change) for at, change in timed if at is not None and since <= at < until]
        return [change for _, change in sorted(kept, key=lambda pair: pair[0])]

    async def post_update(self, payload: Record) -> Record:
        spec = _declared(self._ops.post_update, Capability.POST_UPDATE)
        message = placed(payload, spec.payload)
        return self._one(spec, await self._call(spec, message))

    async def list_services(self) -> list[Record]:
        spec = _declared(self._ops.list_services, Capability.LIST_SERVICES)
        return records_at(await self._call(spec, {}), spec.result)

    def _started(self) -> AsyncServiceProxy:
        if self._service is None:
            raise TransientError("the soap connector is not started")
        return self._service

    def _one(self, spec: CreateOperation | PostUpdateOperation, response: Record) -> Record:
        record = record_at(response, spec.result)
        if record is None:
            raise PermanentError(f"{spec.operation}: the response has no record at {spec.result}")
        return record

    async def _call(self, spec: Operation, message: Record) -> Record:
        """One operation of the WSDL, its failures typed; the response element's content."""
        service = self._started()
        for path, value in spec.constants.items():
            put(message, path, value)
        name = spec.operation
        try:
            async with asyncio.timeout(self.timeout):
                result = await service[name](**without_gaps(message))
        except TimeoutError:
            raise TransientError(f"{name}: no answer within {self.timeout:g} s") from None
        except ConnectorError:
            raise
        except Fault as fault:
            raise self._faults.error(name, fault) from None
        except (TypeError, MessageError) as exc:
            raise PermanentError(
                f"{name}: the request does not fit the WSDL: {redacted(str(exc))}"
            ) from None
        except (TransportError, XMLParseError, etree.XMLSyntaxError) as exc:
            raise TransientError(f"{name}: the answer could not be read: {exc}") from None
        except httpx.HTTPError as exc:
            raise TransientError(f"{name}: {type(exc).__name__}") from None
        return response_record(service._binding.get(name), result)


def _searched(paths: Mapping[str, Any], field: str, section: str) -> Any:
    path = paths.get(field)
    if path is None:
        raise PermanentError(
            f"search cannot filter by {field}: the backend section's search.{section} "
            "does not say where it goes"
        )
    return path


def _declared(spec: Op | None, capability: Capability) -> Op:
    if spec is None:
        raise UnsupportedError(f"the soap backend section declares no {capability.value} operation")
    return spec


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
