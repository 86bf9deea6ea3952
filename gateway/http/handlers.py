"""The Open311 handlers: parse the call into models, run the operation, render the result."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from gateway import operations
from gateway.http.call import Call
from gateway.http.routing import Router
from gateway.intake import accept_new_request
from gateway.open311 import parse, render
from gateway.open311.errors import bad_request

_MAX_IDEMPOTENCY_KEY = 200


async def discovery(call: Call) -> bytes:
    return call.runtime.discovery_document(call.fmt)


async def services(call: Call) -> bytes:
    return call.tenant().catalogue.current().services_document(call.fmt)


async def service_definition(call: Call) -> bytes:
    return call.tenant().catalogue.current().definition_document(call.argument, call.fmt)


async def post_request(call: Call) -> bytes:
    tenant = call.tenant()
    tenant.authenticate(call.param("api_key"))
    request = accept_new_request(tenant.catalogue.current(), call.params)
    receipt = await operations.submit_request(
        call.runtime.store, tenant, request, _idempotency_key(call)
    )
    return render.render_receipts([receipt], call.fmt)


def _idempotency_key(call: Call) -> str:
    key = call.request.headers.get("Idempotency-Key", "").strip()
    if len(key) > _MAX_IDEMPOTENCY_KEY:
        raise bad_request(f"Idempotency-Key: longer than {_MAX_IDEMPOTENCY_KEY} characters")
    return key or secrets.token_hex(16)


async def token(call: Call) -> bytes:
    receipt = await operations.resolve_token(call.runtime.store, call.tenant(), call.argument)
    return render.render_receipts([receipt], call.fmt)


async def requests(call: Call) -> bytes:
    tenant = call.tenant()
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
