"""What each GeoReport v2 operation does behind the edge, in Open311 models only.

Every backend call goes through the tenant's `Backend` (limits, breaker, timeout) and
`_backend`, which turns the connector's typed errors into the answer a client should get.
New requests are not among them: they go through the queue (`gateway.submission`).
Citizens' updates are still posted to the backend within the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

from connectors.base import (
    ConnectorError,
    NotFoundError,
    PermanentError,
    TransientError,
    UnsupportedError,
)
from gateway.mapping import MappingContext, MappingError
from gateway.open311.errors import Open311Error, bad_request, not_found, unavailable
from gateway.open311.models import (
    NewRequestUpdate,
    RequestQuery,
    RequestReceipt,
    RequestUpdate,
    ServiceRequest,
    UpdateQuery,
)
from gateway.store import Store, StoreUnavailable, SubmissionState
from gateway.tenants import Tenant

P = ParamSpec("P")
T = TypeVar("T")


async def _backend(
    tenant: Tenant, operation: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
) -> T:
    """One call to the tenant's backend, its typed failure turned into the client's answer."""
    try:
        return await tenant.backend.call(operation, *args, **kwargs)
    except TransientError as exc:
        raise unavailable(exc.reason) from None
    except PermanentError as exc:
        raise bad_request(f"backend rejected the request: {exc.reason}") from None
    except NotFoundError as exc:
        raise not_found(exc.reason) from None
    except UnsupportedError as exc:
        raise Open311Error(501, exc.reason) from None
    except ConnectorError as exc:
        raise unavailable(f"backend of {tenant.id} failed: {exc.reason}") from None


def _mapped(tenant: Tenant, error: MappingError) -> Open311Error:
    return Open311Error(502, f"a record of {tenant.id}'s backend could not be mapped: {error}")


async def find_requests(tenant: Tenant, query: RequestQuery) -> list[ServiceRequest]:
    if query.service_request_ids:
        records = await _backend(tenant, tenant.connector.get, query.service_request_ids)
    else:
        backend_query = tenant.mapping.backend_query(query)
        records = await _backend(tenant, tenant.connector.search, backend_query)
    catalogue = tenant.catalogue.loaded
    names = catalogue.names if catalogue is not None else None
    try:
        requests = [tenant.mapping.service_request(record, names) for record in records]
    except MappingError as exc:
        raise _mapped(tenant, exc) from None
    requests.sort(key=lambda r: r.requested_datetime, reverse=True)
    return requests[: query.limit]


async def get_request(tenant: Tenant, service_request_id: str) -> ServiceRequest:
    query = RequestQuery(service_request_ids=(service_request_id,))
    found = await find_requests(tenant, query)
    if not found:
        raise not_found(f"service_request_id: no request '{service_request_id}'")
    return found[0]


async def find_by_key(store: Store, tenant: Tenant, key: str) -> list[ServiceRequest]:
    """The request created under an idempotency key; none while it is not delivered."""
    try:
        submission = await store.by_key(tenant.id, key)
    except StoreUnavailable as failure:
        raise unavailable(str(failure)) from None
    if submission is None or submission.service_request_id is None:
        return []
    query = RequestQuery(service_request_ids=(submission.service_request_id,))
    return await find_requests(tenant, query)


async def resolve_token(store: Store, tenant: Tenant, token: str) -> RequestReceipt:
    """The backend's id once the request is delivered; a notice when it was refused."""
    try:
        submission = await store.submission(tenant.id, token)
    except StoreUnavailable as failure:
        raise unavailable(str(failure)) from None
    if submission is None:
        raise not_found(f"token: no token '{token}'")
    notice = None
    if submission.state is SubmissionState.DEAD:
        notice = f"not delivered: the backend did not accept the request: {submission.reason}"
    return RequestReceipt(
        service_request_id=submission.service_request_id, token=token, service_notice=notice
    )


async def list_updates(tenant: Tenant, query: UpdateQuery) -> list[RequestUpdate]:
    records = await _backend(tenant, tenant.connector.updates, query.start, query.end)
    try:
        return [tenant.mapping.request_update(record) for record in records]
    except MappingError as exc:
        raise _mapped(tenant, exc) from None


async def submit_update(tenant: Tenant, update: NewRequestUpdate) -> RequestUpdate:
    context = MappingContext(tenant.id, update.update_id, datetime.now(UTC))
    try:
        payload = tenant.mapping.update_payload(update, context)
    except MappingError as exc:
        raise bad_request(f"update cannot be mapped for the backend: {exc}") from None
    record = await _backend(tenant, tenant.connector.post_update, payload)
    try:
        return tenant.mapping.request_update(record)
    except MappingError as exc:
        raise _mapped(tenant, exc) from None
