"""The Open311 handlers: parse the call into models, run the operation, render the result."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from gateway import idempotency, operations
from gateway.http.call import Call
from gateway.http.routing import Router
from gateway.intake import accept_new_request
from gateway.open311 import parse, render


async def discovery(call: Call) -> bytes:
    return call.runtime.discovery_document(call.fmt)


async def services(call: Call) -> bytes:
    return call.tenant().catalogue.current().services_document(call.fmt)


async def service_definition(call: Call) -> bytes:
    return call.tenant().catalogue.current().definition_document(call.argument, call.fmt)


async def post_request(call: Call) -> bytes:
    received_at = asyncio.get_running_loop().time()
    tenant = call.tenant()
    tenant.authenticate(call.param("api_key"))
    request = accept_new_request(tenant.catalogue.current(), call.params)
    param = tenant.idempotency_param
    identity = idempotency.identify(
        request,
        header=call.request.headers.get(idempotency.HEADER),
        param=param,
        param_value=call.param(param) if param is not None else None,
    )
    receipt = await call.runtime.submissions.submit(tenant, request, identity, received_at)
    return render.render_receipts([receipt], call.fmt)


async def token(call: Call) -> bytes:
    receipt = await operations.resolve_token(call.runtime.store, call.tenant(), call.argument)
    return render.render_receipts([receipt], call.fmt)


async def requests(call: Call) -> bytes:
    tenant = call.tenant()
    key = idempotency.header_key(call.request.headers.get(idempotency.HEADER))
    if key is not None:  # the request created under the key, and the key to say so
        found = await operations.find_by_key(call.runtime.store, tenant, key)
        call.response_headers[idempotency.HEADER] = call.request.headers[idempotency.HEADER].strip()
        return render.render_requests(found, call.fmt)
    query = parse.parse_request_query(call.params, datetime.now(UTC))
    found = await operations.find_requests(tenant, query)
    return render.render_requests(found, call.fmt)


async def request(call: Call) -> bytes:
    found = await operations.get_request(call.tenant(), call.argument)
    return render.render_requests([found], call.fmt)


async def updates(call: Call) -> bytes:
    tenant = call.tenant()
    query = parse.parse_update_query(call.params, datetime.now(UTC))
    found = await operations.list_updates(tenant, query)
    return render.render_updates(found, call.fmt)


async def post_update(call: Call) -> bytes:
    tenant = call.tenant()
    tenant.authenticate(call.param("api_key"))
    update = parse.parse_new_update(call.params)
    stored = await operations.submit_update(tenant, update)
    return render.render_updates([stored], call.fmt)


def open311_routes(base_path: str) -> Router:
    router = Router(base_path)
    router.add("discovery", get=discovery)
    router.add("services", get=services)
    router.add("services/{code}", get=service_definition)
    router.add("requests", get=requests, post=post_request)
    router.add("requests/{id}", get=request)
    router.add("tokens/{token}", get=token)
    router.add("servicerequestupdates", get=updates, post=post_update)
    return router
