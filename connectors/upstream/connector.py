"""The upstream connector: another Open311 GeoReport v2 server as the back office.

It federates cities (a gateway in front of other gateways) and fronts third-party
Open311 servers. Records are the upstream's own documents as plain dicts, keyed by its
Open311 field names (`documents`), the same from XML and JSON:

- `list_services`: each service; one with metadata also carries its definition's
  `attributes`, so that a catalogue taken from the upstream is complete.
- `create`: the new request as `get` gives it, or the POST's answer while the upstream
  does not show it yet. An answer with a `token` only is polled for its id (capped,
  within the timeout); when none comes, an upstream that finds keys (`find: header`) is
  simply asked again on the next delivery (a transient failure), and with any other the
  record carries the token alone, as posting again could duplicate the request.
- `get`, `search`, `find_by_reference`: requests; `updates`, `post_update`: request
  updates (mySociety's `servicerequestupdates`).

A new request's record is sent as form parameters (`forms`), a search's filters as
the protocol's: `service_request_id`, `service_code`, `status`, and `start_date`/
`end_date` on `requested_datetime`.

Idempotency (`references`): Open311 has none, so the key travels where the settings
say: the `Idempotency-Key` header, an attribute, the description. Finding it again
depends on the upstream. This gateway honours the header twice over: a repeated POST
gets the first answer, and GET requests with the header lists the request created
under it (and echoes the header, which tells that the lookup was honoured). A
third-party server can be searched for the key in descriptions: only requests within
`lookback_days` and among the 1000 it returns are found, and only if it keeps
descriptions whole. Attributes are carried for the upstream's staff and systems;
Open311 cannot search by them. With `find: none`, a redelivered request is posted
again, which only an upstream honouring the header recognises.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from connectors.base import (
    BackendQuery,
    Capability,
    Connector,
    ConnectorError,
    NotFoundError,
    PermanentError,
    Range,
    Record,
    TransientError,
    UnsupportedError,
)
from connectors.upstream.client import Reply, UpstreamClient
from connectors.upstream.forms import Params, form_params, form_text
from connectors.upstream.references import (
    description_reference,
    wire_reference,
    with_reference,
    without_reference,
)
from connectors.upstream.settings import UpstreamSettings
from connectors.upstream.windows import oldest_first, window_params, within

T = TypeVar("T")

KEY_HEADER = "Idempotency-Key"
SEARCHABLE = {"service_code": "service_code", "status": "status"}
"""Backend fields a search may filter on, and the Open311 parameter for each."""
SEARCH_TIME = "requested_datetime"
"""The one field a search may bound: `start_date` and `end_date`."""
UPDATE_TIME = "updated_datetime"
IDS_PER_CALL = 50
"""Ids in one `service_request_id` list, so that a URL stays short."""
CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of our clock the upstream's may be, for a search that ends now."""


class UpstreamBackend(BaseModel):
    """The mapping's `backend` section: an Open311 upstream needs no description, its
    fields are the protocol's."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class UpstreamConnector(Connector):
    kind: ClassVar[str] = "open311"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)
    schema_model: ClassVar[type[BaseModel] | None] = UpstreamBackend

    def __init__(self, settings: Mapping[str, Any], schema: Mapping[str, Any], *, timeout: float):
        super().__init__(settings, schema, timeout=timeout)
        UpstreamBackend.model_validate(schema)
        self._settings = UpstreamSettings.model_validate(settings)
        self._client = UpstreamClient(self._settings, timeout)
        updates = self._settings.updates
        self._has_updates: bool | None = None if updates == "detect" else bool(updates)
        """Whether the upstream serves servicerequestupdates; None until detected."""

    def supports(self, capability: Capability) -> bool:
        """What this instance offers: the settings (and what was detected) narrow the
        class's capabilities, which say what an upstream may offer."""
        if capability is Capability.FIND_BY_REFERENCE:
            return self._settings.reference.find != "none"
        if capability in (Capability.UPDATES, Capability.POST_UPDATE):
            return self._has_updates is not False
        return super().supports(capability)

    async def start(self) -> None:
        await self._client.start()

    async def close(self) -> None:
        await self._client.close()

    async def health(self) -> None:
        client = self._client
        await client.send("GET", "services", client.deadline(), params=client.query())

    async def list_services(self) -> list[Record]:
        deadline = self._client.deadline()
        services = (
            await self._client.send("GET", "services", deadline, params=self._client.query())
        ).records()
        described = [service for service in services if service.get("metadata") is True]
        definitions = await _all(self._definition(service, deadline) for service in described)
        for service, attributes in zip(described, definitions, strict=True):
            service["attributes"] = attributes
        return services

    async def _definition(self, service: Record, deadline: float) -> list[Any]:
        code = str(service.get("service_code", ""))
        try:
            reply = await self._client.send(
                "GET", f"services/{_segment(code)}", deadline, params=self._client.query()
            )
        except NotFoundError:
            raise TransientError(
                f"the upstream lists service '{code}' with metadata but has no definition for it"
            ) from None
        definition = reply.record()
        attributes = definition.get("attributes", [])
        if not isinstance(attributes, list):
            raise TransientError(f"the upstream's definition of service '{code}' is malformed")
        return attributes

    async def create(self, payload: Record, idempotency_key: str) -> Record:
        deadline = self._client.deadline()
        reference = wire_reference(idempotency_key)
        marked = with_reference(payload, reference, self._settings.reference)
        form = [*form_params(marked), *self._client.credentials()]
        headers = {KEY_HEADER: reference} if self._settings.reference.header else None
        receipts = (
            await self._client.send("POST", "requests", deadline, form=form, headers=headers)
        ).records()
        if not receipts:
            raise TransientError("the upstream answered the POST without a request")
        receipt = receipts[0]
        if receipt.get("service_request_id"):
            return await self._stored(receipt, deadline)
        if not receipt.get("token"):
            raise PermanentError("the upstream answered the POST with neither an id nor a token")
        resolved = await self._resolve_token(str(receipt["token"]), deadline)
        if resolved is not None:
            return await self._stored({**receipt, "service_request_id": resolved}, deadline)
        if self._settings.reference.find == "header":
            raise TransientError(
                "the upstream accepted the request but gave no id for its token in time; "
                "the next delivery finds it by its key"
            )
        return receipt

    async def _stored(self, receipt: Record, deadline: float) -> Record:
        """The new request as the upstream stores it (what `get` gives); the POST's answer
        when it cannot be read yet: the request is made either way."""
        try:
            found = await self._one(str(receipt["service_request_id"]), deadline)
        except ConnectorError:
            return receipt
        return found[0] if found else receipt

    async def _resolve_token(self, token: str, deadline: float) -> str | None:
        """The id the upstream gives for `token`, polling a capped number of times
        within the operation's time; None when it gives none in time."""
        loop = asyncio.get_running_loop()
        interval = self._settings.token_poll_interval
        for _ in range(self._settings.token_polls):
            if deadline - loop.time() <= interval:
                return None
            await asyncio.sleep(interval)
            try:
                receipts = (
                    await self._client.send(
                        "GET", f"tokens/{_segment(token)}", deadline, params=self._client.query()
                    )
                ).records()
            except (TransientError, NotFoundError):
                continue  # not resolvable yet, or on another instance: ask again
            except (PermanentError, UnsupportedError):
                return None
            for receipt in receipts:
                if receipt.get("service_request_id"):
                    return str(receipt["service_request_id"])
        return None

    async def find_by_reference(self, idempotency_key: str) -> Record | None:
        settings = self._settings.reference
        reference = wire_reference(idempotency_key)
        if settings.find == "header":
            return await self._find_by_header(reference)
        if settings.find == "description":
            return await self._find_in_descriptions(reference)
        raise UnsupportedError("the open311 connector is set not to look up requests by key")

    async def _find_by_header(self, reference: str) -> Record | None:
        deadline = self._client.deadline()
        headers = {KEY_HEADER: reference}
        reply = await self._client.send(
            "GET", "requests", deadline, params=self._client.query(), headers=headers
        )
        if reply.headers.get(KEY_HEADER) != reference:
            raise UnsupportedError(
                "the upstream does not look requests up by Idempotency-Key; "
                "set reference.find to description or none"
            )
        found = reply.records()
        return self._present(found[0]) if found else None

    async def _find_in_descriptions(self, reference: str) -> Record | None:
        now = datetime.now(UTC)
        start = now - timedelta(days=self._settings.reference.lookback_days)
        params = self._client.query(*window_params(start, now + CLOCK_SKEW))
        records = (
            await self._client.send("GET", "requests", self._client.deadline(), params=params)
        ).records()
        found = next((r for r in records if description_reference(r) == reference), None)
        return self._present(found) if found is not None else None

    async def get(self, ids: Sequence[str]) -> list[Record]:
        wanted = list(dict.fromkeys(str(i) for i in ids))
        deadline = self._client.deadline()
        if len(wanted) == 1:
            return await self._one(wanted[0], deadline)
        chunks = [wanted[i : i + IDS_PER_CALL] for i in range(0, len(wanted), IDS_PER_CALL)]
        found = await _all(self._several(chunk, deadline) for chunk in chunks)
        return [record for chunk in found for record in chunk]

    async def _one(self, service_request_id: str, deadline: float) -> list[Record]:
        try:
            records = (
                await self._client.send(
                    "GET",
                    f"requests/{_segment(service_request_id)}",
                    deadline,
                    params=self._client.query(),
                )
            ).records()
        except NotFoundError:
            return []
        return self._matching(records, {service_request_id})

    async def _several(self, ids: list[str], deadline: float) -> list[Record]:
        if any("," in i for i in ids):  # a comma list cannot carry them: one call each
            found = await _all(self._one(i, deadline) for i in ids)
            return [record for records in found for record in records]
        params = self._client.query(("service_request_id", ",".join(ids)))
        return self._matching(
            (await self._client.send("GET", "requests", deadline, params=params)).records(), ids
        )

    def _matching(self, records: list[Record], ids: Iterable[str]) -> list[Record]:
        """The records asked for: an upstream that ignored the ids gives others too."""
        wanted = set(ids)
        return [
            self._present(record)
            for record in records
            if str(record.get("service_request_id")) in wanted
        ]

    async def search(self, query: BackendQuery) -> list[Record]:
        if query.ids:
            return (await self.get(query.ids))[: query.limit]
        params: Params = []
        for field, values in query.any_of.items():
            if field not in SEARCHABLE:
                raise PermanentError(f"an Open311 upstream cannot filter requests by '{field}'")
            texts = [form_text(value, field) for value in values if value is not None]
            if not texts:
                return []  # no value can match; an empty parameter would match every one
            params.append((SEARCHABLE[field], ",".join(texts)))
        unbounded = sorted(query.ranges.keys() - {SEARCH_TIME})
        if unbounded:
            raise PermanentError(f"an Open311 upstream cannot bound requests by '{unbounded[0]}'")
        bounds = query.ranges.get(SEARCH_TIME, Range())
        params += window_params(bounds.low, bounds.high)
        params.append(("page_size", str(query.limit)))
        records = (
            await self._client.send(
                "GET", "requests", self._client.deadline(), params=self._client.query(*params)
            )
        ).records()
        records = within(records, SEARCH_TIME, bounds.low, bounds.high)
        return [self._present(record) for record in records[: query.limit]]

    async def updates(self, since: datetime, until: datetime) -> list[Record]:
        if self._has_updates is False:
            raise _no_updates()
        reply = await self._updates_reply(since, until, self._client.deadline())
        if reply is None:
            raise _no_updates()
        return oldest_first(within(reply.records(), UPDATE_TIME, since, until), UPDATE_TIME)

    async def post_update(self, payload: Record) -> Record:
        deadline = self._client.deadline()
        if self._has_updates is None:
            await self._detect_updates(deadline)
        if self._has_updates is False:
            raise _no_updates()
        form = [*form_params(payload), *self._client.credentials()]
        records = (
            await self._client.send("POST", "servicerequestupdates", deadline, form=form)
        ).records()
        if not records:
            raise TransientError("the upstream answered the update without a request update")
        return records[0]

    async def _detect_updates(self, deadline: float) -> None:
        """Whether the upstream serves updates, asked once for the last second's, so that
        a 404 to a POST then means an unknown request, not a missing extension."""
        now = datetime.now(UTC)
        await self._updates_reply(now - timedelta(seconds=1), now, deadline)

    async def _updates_reply(
        self, since: datetime, until: datetime, deadline: float
    ) -> Reply | None:
        """The upstream's updates in the window; None when it has no such route, which
        detection remembers."""
        params = self._client.query(*window_params(since, until))
        try:
            reply = await self._client.send("GET", "servicerequestupdates", deadline, params=params)
        except (NotFoundError, UnsupportedError):
            if self._settings.updates == "detect":
                self._has_updates = False
            return None
        self._has_updates = True
        return reply

    def _present(self, record: Record) -> Record:
        """A request as the mapping reads it: the reference line is the connector's own."""
        return without_reference(record) if self._settings.reference.description else record


def _segment(value: str) -> str:
    """A path segment for an id, code or token, whatever characters it holds."""
    return quote(value, safe="")


def _no_updates() -> UnsupportedError:
    return UnsupportedError("the upstream does not serve servicerequestupdates")


async def _all(calls: Iterable[Awaitable[Any]]) -> list[Any]:
    """Every call's result, run together; the first failure cancels the rest."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
