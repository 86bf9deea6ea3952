"""A connector for a small REST ticketing API: the worked example of a connector written
outside the gateway's tree (see connectors/README.md in the gateway).

The API: `POST {url}/{resource}` creates a ticket (409 when its reference is taken);
`GET {url}/{resource}?field=value&field.gte=..&field.lt=..&order=-field&limit=n` searches
(a repeated field matches any of its values); `GET {url}/health` answers while it is up.
Settings: `url`, and `token` (sent as a bearer token). The idempotency key is written
into each ticket under the field the mapping's `backend.reference` names.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import partial
from typing import Any, ClassVar

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from connectors.base import (
    BackendQuery,
    Capability,
    Connector,
    ConnectorError,
    NotFoundError,
    PermanentError,
    Record,
    TransientError,
)


class RestBackend(BaseModel):
    """The mapping's `backend` section: checked when the mapping loads."""

    model_config = ConfigDict(extra="forbid")
    resource: str = Field(default="tickets", pattern=r"^[A-Za-z0-9_-]+$")
    reference: str = "reference"


class RestSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(pattern=r"^https?://")
    token: str | None = None


class Conflict(PermanentError):
    """409: a ticket with that reference exists already."""


class RestConnector(Connector):
    kind: ClassVar[str] = "rest"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.CREATE, Capability.FIND_BY_REFERENCE, Capability.GET, Capability.SEARCH}
    )
    schema_model: ClassVar[type[BaseModel] | None] = RestBackend

    def __init__(self, settings: Mapping[str, Any], schema: Mapping[str, Any], *, timeout: float):
        super().__init__(settings, schema, timeout=timeout)
        self._settings = RestSettings.model_validate(settings)
        self._backend = RestBackend.model_validate(schema)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open a session and check the API answers; the gateway retries a failed start."""
        token = self._settings.token
        self._session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {token}"} if token else None,
            json_serialize=partial(json.dumps, default=_text),
        )
        await self.health()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def health(self) -> None:
        await self._call("GET", "health")

    async def create(self, payload: Record, idempotency_key: str) -> Record:
        ticket = {**payload, self._backend.reference: idempotency_key}
        try:
            return await self._call("POST", self._backend.resource, json=ticket)
        except Conflict:  # made before, by a delivery whose answer was lost
            if (found := await self.find_by_reference(idempotency_key)) is None:
                raise
            return found

    async def find_by_reference(self, idempotency_key: str) -> Record | None:
        found = await self._search([(self._backend.reference, idempotency_key)])
        return found[0] if found else None

    async def get(self, ids: Sequence[str]) -> list[Record]:
        return await self._search([("id", str(i)) for i in ids]) if ids else []

    async def search(self, query: BackendQuery) -> list[Record]:
        if query.ids:
            return await self.get(query.ids)
        params = [(f, _text(v)) for f, values in query.any_of.items() for v in values]
        for field, bounds in query.ranges.items():
            limits = ((".gte", bounds.low), (".lt", bounds.high))
            params += [(field + op, _text(value)) for op, value in limits if value is not None]
        if query.order_by:
            params.append(("order", f"-{query.order_by}"))
        return await self._search([*params, ("limit", str(query.limit))])

    async def _search(self, params: list[tuple[str, str]]) -> list[Record]:
        return await self._call("GET", self._backend.resource, params=params)

    async def _call(self, method: str, path: str, **options: Any) -> Any:
        """One request within the timeout. A timeout, a connection failure, 429 and 5xx are
        transient; 404 is not found; any other 4xx refuses the payload for good."""
        if self._session is None:
            raise TransientError("the rest connector is not started")
        url = f"{self._settings.url.rstrip('/')}/{path}"
        try:
            async with asyncio.timeout(self.timeout):
                async with self._session.request(method, url, **options) as response:
                    if response.status >= 400:
                        raise _error(response.status, await response.text())
                    return await response.json(content_type=None)
        except TimeoutError:
            raise TransientError(f"the API did not answer within {self.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise TransientError(f"the API cannot be reached: {type(exc).__name__}") from None
        except ValueError:
            raise TransientError("the API answered with a body that is not JSON") from None


def _error(status: int, body: str) -> ConnectorError:
    try:
        detail = str(json.loads(body)["error"])[:200]
    except (ValueError, TypeError, KeyError):
        detail = ""
    reason = f"the API answered {status}" + (f": {detail}" if detail else "")
    if status in (404, 409):
        return NotFoundError(reason) if status == 404 else Conflict(reason)
    return TransientError(reason) if status == 429 or status >= 500 else PermanentError(reason)


def _text(value: Any) -> Any:
    """Dates and times as ISO 8601 text, for JSON bodies and query strings."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value if isinstance(value, str) else json.dumps(value)
