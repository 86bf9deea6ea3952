"""SQL connectors that each break one rule of the connector contract: the conformance
kit must fail the check of that rule on every one (see test_kit_catches.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select

from connectors.base import (
    BackendQuery,
    ConnectorError,
    NotFoundError,
    PermanentError,
    Record,
    TransientError,
)
from connectors.sql import SqlConnector


async def _retyped(
    call: Awaitable[Record], caught: type[ConnectorError], raised: Callable[[str], Exception]
) -> Record:
    """`call`'s record; its `caught` error raised again as `raised(reason)`."""
    try:
        return await call
    except caught as error:
        raise raised(error.reason) from None


class SearchOldestFirst(SqlConnector):
    async def search(self, query: BackendQuery) -> list[Record]:
        return list(reversed(await super().search(query)))


class SearchIgnoringIds(SqlConnector):
    async def search(self, query: BackendQuery) -> list[Record]:
        return await super().search(dataclasses.replace(query, ids=()))


class SearchIgnoringValues(SqlConnector):
    async def search(self, query: BackendQuery) -> list[Record]:
        return await super().search(dataclasses.replace(query, any_of={}))


class SearchIgnoringRanges(SqlConnector):
    async def search(self, query: BackendQuery) -> list[Record]:
        return await super().search(dataclasses.replace(query, ranges={}))


class SearchIgnoringLimit(SqlConnector):
    async def search(self, query: BackendQuery) -> list[Record]:
        return await super().search(dataclasses.replace(query, limit=1000))


class UpdatesNewestFirst(SqlConnector):
    async def updates(self, since: datetime, until: datetime) -> list[Record]:
        return list(reversed(await super().updates(since, until)))


class UpdatesWithTheEnd(SqlConnector):
    async def updates(self, since: datetime, until: datetime) -> list[Record]:
        return await super().updates(since, until + timedelta(microseconds=1))


class UpdateIdsPerCall(SqlConnector):
    """Numbers the changes of each answer afresh, as a backend without change ids might."""

    async def updates(self, since: datetime, until: datetime) -> list[Record]:
        changes = await super().updates(since, until)
        return [{**change, "history_id": number} for number, change in enumerate(changes)]


class CreateReturningOnlyTheId(SqlConnector):
    async def create(self, payload: Record, idempotency_key: str) -> Record:
        stored = await super().create(payload, idempotency_key)
        return {"ticket_no": stored["ticket_no"]}


class FindingTheNewest(SqlConnector):
    """Finds a record whatever the key: the newest one."""

    async def find_by_reference(self, idempotency_key: str) -> Record | None:
        found = await super().search(BackendQuery(limit=1))
        return found[0] if found else None


class GetRefusingUnknownIds(SqlConnector):
    async def get(self, ids: Sequence[str]) -> list[Record]:
        found = await super().get(ids)
        if len(found) < len(ids):
            raise NotFoundError("some ids are unknown")
        return found


class RefusalsRetried(SqlConnector):
    async def create(self, payload: Record, idempotency_key: str) -> Record:
        return await _retyped(
            super().create(payload, idempotency_key), PermanentError, TransientError
        )


class RefusalsQuotingThePayload(SqlConnector):
    async def create(self, payload: Record, idempotency_key: str) -> Record:
        return await _retyped(
            super().create(payload, idempotency_key),
            PermanentError,
            lambda reason: PermanentError(f"{reason}: {payload}"),
        )


class UnknownRequestsRefused(SqlConnector):
    async def post_update(self, payload: Record) -> Record:
        return await _retyped(super().post_update(payload), NotFoundError, PermanentError)


class ListingServicesItHasNot(SqlConnector):
    """Does not declare list_services, and crashes instead of saying it is unsupported."""

    async def list_services(self) -> list[Record]:
        return await self._read(select(self._tables.services))


class OutagesUntyped(SqlConnector):
    async def create(self, payload: Record, idempotency_key: str) -> Record:
        return await _retyped(
            super().create(payload, idempotency_key), TransientError, RuntimeError
        )


class StayingDownAfterAnOutage(SqlConnector):
    """Once a create failed, every later one fails too: dead connections kept for good."""

    _down = False

    async def create(self, payload: Record, idempotency_key: str) -> Record:
        if self._down:
            raise TransientError("the database failed: the connection is closed")
        try:
            return await super().create(payload, idempotency_key)
        except TransientError:
            self._down = True
            raise


class RetryingWithoutEnd(SqlConnector):
    """Retries a failed create with no cap: on a stalled backend it never returns."""

    async def create(self, payload: Record, idempotency_key: str) -> Record:
        while True:
            try:
                return await super().create(payload, idempotency_key)
            except TransientError:
                continue
