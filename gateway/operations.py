"""What each GeoReport v2 operation does behind the edge, in Open311 models only.

Every backend call goes through the tenant's `Backend` (limits, breaker, timeout) and
`_backend`, which turns the connector's typed errors into the answer a client should get.
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
    NewServiceRequest,
    RequestQuery,
    RequestReceipt,
    RequestUpdate,
    ServiceRequest,
    ServiceType,
    UpdateQuery,
)
from gateway.store import Store
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


async def submit_request(
    store: Store, tenant: Tenant, request: NewServiceRequest, idempotency_key: str
) -> RequestReceipt:
    """Create the request in the backend; batch services answer with a token."""
    service = tenant.catalogue.current().service(request.service_code)
    context = MappingContext(tenant.id, idempotency_key, datetime.now(UTC))
    try:
        payload = tenant.mapping.create_payload(request, context)
    except MappingError as exc:
        raise bad_request(f"request cannot be mapped for the backend: {exc}") from None
    record = await _backend(tenant, tenant.connector.create, payload, idempotency_key)
    try:
        service_request_id = tenant.mapping.service_request_id(record)
    except MappingError as exc:
        raise _mapped(tenant, exc) from None
    if service.type is ServiceType.BATCH:
        token = await store.record_token(tenant.id, service_request_id)
        return RequestReceipt(token=token, account_id=request.account_id)
    return RequestReceipt(service_request_id=service_request_id, account_id=request.account_id)


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


async def resolve_token(store: Store, tenant: Tenant, token: str) -> RequestReceipt:
    known, service_request_id = await store.resolve_token(tenant.id, token)
    if not known:
        raise not_found(f"token: no token '{token}'")
    return RequestReceipt(service_request_id=service_request_id, token=token)


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
