"""The Salesforce connector: requests as records of an sObject (Case by default).

simple-salesforce is synchronous: every operation runs on a thread of the connector's
own pool (`threads` at most), so the event loop never waits on it, and is bounded by
the connector's timeout (each HTTP request, and the operation as a whole). SOQL is
built by `connectors.salesforce.soql` only: names from the mapping, values escaped.

- `create` upserts on the External ID field with the idempotency key (201 created, or
  200 when a redelivery finds the record), then reads the record back.
- `find_by_reference`, `get` and `search` are SOQL queries selecting the mapping's fields.
- `updates` reads the rows of a child object (comments, history) in the window, each
  with its request under `parent`; or the requests last modified in the window.
- `post_update` writes a citizen's update as a comment of the request, changing the
  request first with whatever the record holds under `parent`.
- `list_services` gives the active values of a picklist (describe).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from connectors.base import (
    BackendQuery,
    Capability,
    Connector,
    NotFoundError,
    PermanentError,
    Range,
    Record,
    TransientError,
    UnsupportedError,
)
from connectors.salesforce import soql
from connectors.salesforce.client import Client, sobject
from connectors.salesforce.ids import canonical_id
from connectors.salesforce.records import body, instant, read
from connectors.salesforce.schema import (
    PARENT_KEY,
    Comments,
    ModifiedUpdates,
    SalesforceSchema,
)
from connectors.salesforce.settings import SalesforceSettings

T = TypeVar("T")

NO_CONTENT = 204
IDS_PER_QUERY = 200
"""Ids in one `IN (...)`: well inside SOQL's statement length."""


class SalesforceConnector(Connector):
    kind: ClassVar[str] = "salesforce"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.CREATE, Capability.FIND_BY_REFERENCE, Capability.GET, Capability.SEARCH}
    )
    schema_model: ClassVar[type[BaseModel] | None] = SalesforceSchema

    @classmethod
    def capabilities_for(cls, schema: Mapping[str, Any]) -> frozenset[Capability]:
        optional = {
            "services": Capability.LIST_SERVICES,
            "comments": Capability.POST_UPDATE,
            "updates": Capability.UPDATES,
        }
        return cls.capabilities | {
            capability for key, capability in optional.items() if schema.get(key) is not None
        }

    def __init__(self, settings: Mapping[str, Any], schema: Mapping[str, Any], *, timeout: float):
        super().__init__(settings, schema, timeout=timeout)
        self._settings = SalesforceSettings.model_validate(settings)
        self._spec = SalesforceSchema.model_validate(schema)
        self._client: Client | None = None
        self._threads: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        """Nothing is sent yet: the first call logs in, so a Salesforce that is down at
        start delays nothing."""
        self._client = Client(self._settings, timeout=self.timeout)
        self._threads = ThreadPoolExecutor(self._settings.threads, thread_name_prefix="salesforce")

    async def close(self) -> None:
        threads, client = self._threads, self._client
        self._threads = self._client = None
        if threads is not None:
            await asyncio.to_thread(threads.shutdown, wait=True, cancel_futures=True)
        if client is not None:
            client.close()

    @property
    def logins(self) -> int:
        """Access tokens taken since start."""
        return self._client.logins if self._client is not None else 0

    async def _run(self, work: Callable[[Client], T]) -> T:
        """`work(client)` on a pool thread, within the timeout."""
        if self._client is None or self._threads is None:
            raise TransientError("the salesforce connector is not started")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                return await loop.run_in_executor(self._threads, work, self._client)
        except TimeoutError:
            raise TransientError(f"Salesforce did not answer within {self.timeout:g} s") from None

    async def health(self) -> None:
        await self._run(lambda client: client.call(lambda salesforce: salesforce.limits()))

    async def create(self, payload: Record, idempotency_key: str) -> Record:
        spec = self._spec
        if not idempotency_key.strip("."):
            raise PermanentError("an idempotency key of dots alone cannot address a record")
        written = body({k: v for k, v in payload.items() if k.lower() != spec.external_id.lower()})
        address = f"{spec.external_id}/{quote(idempotency_key, safe='')}"

        def upsert(client: Client) -> Record:
            reply = client.call(
                lambda sf: sobject(sf, spec.sobject).upsert(address, written, raw_response=True)
            )
            if reply.status_code == NO_CONTENT:  # an existing record, before API 46.0
                stored = soql.equals(spec.external_id, idempotency_key)
            else:
                stored = soql.equals("Id", _reply_id(reply))
            found = self._select(client, [stored], limit=1)
            if not found:
                raise TransientError("Salesforce does not show the record it just stored yet")
            return found[0]

        return await self._run(upsert)

    async def find_by_reference(self, idempotency_key: str) -> Record | None:
        condition = soql.equals(self._spec.external_id, idempotency_key)
        found = await self._run(lambda client: self._select(client, [condition], limit=1))
        return found[0] if found else None

    async def get(self, ids: Sequence[str]) -> list[Record]:
        wanted = self._valid_ids(ids)
        if not wanted:
            return []
        return await self._run(lambda client: self._by_ids(client, wanted))

    async def search(self, query: BackendQuery) -> list[Record]:
        spec = self._spec
        conditions: list[str] = []
        if query.ids:
            wanted = self._valid_ids(query.ids)
            if not wanted:
                return []
            conditions.append(_written(soql.one_of, spec.id, wanted))
        else:
            for name, values in query.any_of.items():
                if not values:
                    return []
                conditions.append(_written(soql.one_of, name, values))
            for name, bounds in query.ranges.items():
                conditions.extend(_window(name, bounds))
        order = [(query.order_by or spec.created_at, True), ("Id", True)]
        statement = _written(soql.Select, spec.fields, spec.sobject, conditions, order, query.limit)
        return await self._run(lambda client: _query(client, statement))

    async def updates(self, since: datetime, until: datetime) -> list[Record]:
        source = self._spec.updates
        if source is None:
            raise UnsupportedError("the mapping names no source of updates (backend.updates)")
        if isinstance(source, ModifiedUpdates):
            spec, field = self._spec, source.last_modified
            window = _window(field, Range(since, until))
            order = [(field, False), ("Id", False)]
            statement = _written(soql.Select, spec.fields, spec.sobject, window, order)
            return await self._run(lambda client: _query(client, statement))
        conditions = _window(source.time, Range(since, until))
        conditions += [_written(soql.equals, name, value) for name, value in source.match.items()]
        order = [(source.time, False), ("Id", False)]
        statement = _written(soql.Select, source.fields, source.sobject, conditions, order)
        parent = _field_of(source.fields, source.parent)
        return await self._run(
            lambda client: self._with_parents(client, _query(client, statement), parent)
        )

    def _with_parents(self, client: Client, changes: list[Record], parent: str) -> list[Record]:
        ids = sorted({str(change[parent]) for change in changes if change.get(parent)})
        parents = {str(record["Id"])[:15]: record for record in self._by_ids(client, ids, "Id")}
        for change in changes:
            found = parents.get(str(change.get(parent) or "")[:15])
            if found is not None:
                change[PARENT_KEY] = found
        return changes

    async def post_update(self, payload: Record) -> Record:
        comments = self._spec.comments
        if comments is None:
            raise UnsupportedError("the mapping names no object for comments (backend.comments)")
        change = dict(payload)
        request_changes = change.pop(PARENT_KEY, None) or {}
        if not isinstance(request_changes, dict):
            raise PermanentError(f"'{PARENT_KEY}' must be a record of the request's fields")
        reference = change.get(comments.parent)
        if reference is None:
            raise PermanentError(f"the update names no request: {comments.parent} has no value")
        return await self._run(
            lambda client: self._comment(client, comments, change, str(reference), request_changes)
        )

    def _comment(
        self,
        client: Client,
        comments: Comments,
        change: Record,
        reference: str,
        request_changes: Record,
    ) -> Record:
        spec = self._spec
        request = self._request(client, reference)
        record_id = str(request["Id"])
        if request_changes:
            client.call(
                lambda sf: sobject(sf, spec.sobject).update(record_id, body(request_changes))
            )
            request = self._request(client, record_id, by=_field_of(spec.fields, "Id"))
        written = body({**change, comments.parent: record_id})
        created = client.call(lambda sf: sobject(sf, comments.sobject).create(written))
        if isinstance(spec.updates, ModifiedUpdates):
            return request
        statement = soql.Select(
            comments.fields, comments.sobject, [soql.equals("Id", _id(created))]
        )
        found = _query(client, str(statement))
        if not found:
            raise TransientError("Salesforce does not show the comment it just stored yet")
        return {**found[0], PARENT_KEY: request}

    def _request(self, client: Client, reference: str, *, by: str | None = None) -> Record:
        """The request whose id field (or `by`) is `reference`; NotFoundError otherwise."""
        field = by or self._spec.id
        if field.lower() == "id" and canonical_id(reference) is None:
            raise NotFoundError(f"no request '{reference}'")
        found = self._select(client, [soql.equals(field, reference)], limit=1)
        if not found:
            raise NotFoundError(f"no request '{reference}'")
        return found[0]

    async def list_services(self) -> list[Record]:
        services = self._spec.services
        if services is None:
            raise UnsupportedError("the mapping names no picklist of services (backend.services)")
        name = self._spec.sobject
        described = await self._run(
            lambda client: client.call(lambda sf: sobject(sf, name).describe())
        )
        for field in described.get("fields", []):
            if str(field.get("name", "")).lower() == services.picklist.lower():
                return [
                    read(entry)
                    for entry in field.get("picklistValues") or []
                    if entry.get("active")
                ]
        raise PermanentError(f"{name} has no field '{services.picklist}' to list services from")

    def _select(
        self, client: Client, conditions: list[str], limit: int | None = None
    ) -> list[Record]:
        spec = self._spec
        return _query(client, str(soql.Select(spec.fields, spec.sobject, conditions, limit=limit)))

    def _by_ids(self, client: Client, ids: list[str], field: str | None = None) -> list[Record]:
        """The records whose `field` (the request id's by default) is one of `ids`."""
        return [
            record
            for chunk in _chunks(ids)
            for record in self._select(client, [soql.one_of(field or self._spec.id, chunk)])
        ]

    def _valid_ids(self, ids: Iterable[str]) -> list[str]:
        """The ids that can name a request: any text for a field like CaseNumber; only
        well-formed record ids for Id (Salesforce refuses the query for another)."""
        wanted = list(dict.fromkeys(str(identifier) for identifier in ids))
        if self._spec.id.lower() == "id":
            wanted = [identifier for identifier in wanted if canonical_id(identifier)]
        return wanted


def _query(client: Client, statement: str) -> list[Record]:
    result = client.call(lambda sf: sf.query_all(statement))
    return [read(record) for record in result.get("records", [])]


def _reply_id(reply: Any) -> str:
    try:
        return _id(reply.json())
    except ValueError:
        raise TransientError("Salesforce's answer to an upsert is not JSON") from None


def _id(answer: Any) -> str:
    if not isinstance(answer, dict) or not answer.get("id"):
        raise TransientError("Salesforce's answer names no record id")
    return str(answer["id"])


def _field_of(fields: Sequence[str], name: str) -> str:
    """`name` as the fields list writes it (Salesforce answers with that spelling)."""
    return next((field for field in fields if field.lower() == name.lower()), name)


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), IDS_PER_QUERY):
        yield ids[start : start + IDS_PER_QUERY]


def _written(build: Callable[..., object], *parts: Any) -> str:
    """SOQL text built from `parts`; what SOQL cannot hold (a name that is not an
    identifier, a value of no SOQL type) is the mapping's to fix: PermanentError."""
    try:
        return str(build(*parts))
    except ValueError as exc:
        raise PermanentError(f"the query cannot be written in SOQL: {exc}") from None


def _window(field: str, bounds: Range) -> list[str]:
    """`low <= field < high` in whole seconds, as Salesforce keeps date-times. A bound
    with a fraction is rounded up: for values in whole seconds that is exact, both ways."""
    conditions = []
    if bounds.low is not None:
        conditions.append(_written(soql.at_least, field, _whole_second(bounds.low)))
    if bounds.high is not None:
        conditions.append(_written(soql.before, field, _whole_second(bounds.high)))
    return conditions


def _whole_second(value: Any) -> Any:
    if not isinstance(value, datetime):
        return value
    moment = instant(value)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment
