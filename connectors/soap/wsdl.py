"""The WSDL: loaded once at start, its port bound, and the backend section checked
against it, so a wrong operation or element name stops the start instead of failing
every call.

zeep loads a WSDL synchronously, even for its async client: it is loaded in a thread.
Documents fetched by URL stay in zeep's process-wide cache for `wsdl_cache_seconds`, so
a restart of the connector (or another jurisdiction on the same back office) reuses them.
DTDs and external entities are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
from lxml import etree
from zeep import AsyncClient, Plugin, Settings
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import TransportError
from zeep.proxy import AsyncServiceProxy
from zeep.wsdl.bindings.soap import Soap11Binding, Soap12Binding
from zeep.wsse.username import UsernameToken

from connectors.base import PermanentError, TransientError
from connectors.soap.schema import (
    CreateOperation,
    FindByReferenceOperation,
    GetOperation,
    Operation,
    PostUpdateOperation,
    SearchOperation,
    SoapSchema,
    UpdatesOperation,
)
from connectors.soap.settings import SoapSettings
from connectors.soap.transport import BackendTransport, transport

BINDINGS = {"1.1": Soap11Binding, "1.2": Soap12Binding}


def load_client(
    settings: SoapSettings, timeout: float, plugins: list[Plugin]
) -> tuple[AsyncClient, BackendTransport]:
    """The client on the settings' WSDL (blocking: run it in a thread)."""
    wire = transport(settings, timeout)
    wsse = None
    if settings.ws_security is not None:
        token = settings.ws_security
        wsse = UsernameToken(
            token.username, token.password.get_secret_value(), use_digest=token.digest
        )
    try:
        client = AsyncClient(
            settings.wsdl,
            transport=wire,
            wsse=wsse,
            plugins=plugins,
            settings=Settings(forbid_dtd=True, forbid_external=True),
        )
    except Exception as exc:
        wire.wsdl_client.close()
        raise _loading_error(settings, exc) from None
    return client, wire


def _loading_error(settings: SoapSettings, exc: Exception) -> Exception:
    where = settings.wsdl if settings.wsdl_is_remote else "the WSDL file"
    if isinstance(exc, httpx.HTTPError | ConnectionError | TimeoutError):
        return TransientError(f"the WSDL at {where} could not be loaded ({type(exc).__name__})")
    if isinstance(exc, TransportError):
        return TransientError(f"the WSDL at {where} could not be loaded (HTTP {exc.status_code})")
    if isinstance(exc, OSError | ZeepError | etree.XMLSyntaxError | ValueError):
        return PermanentError(f"the WSDL at {where} cannot be used: {exc}")
    return exc


def bind(client: AsyncClient, settings: SoapSettings) -> AsyncServiceProxy:
    """The service proxy of the port the settings name, or of the first port of their
    SOAP version; at the settings' address when they give one."""
    ports = [
        (service.name, port)
        for service in client.wsdl.services.values()
        for port in service.ports.values()
    ]
    if settings.service is not None:
        chosen = [
            port
            for service, port in ports
            if service == settings.service and settings.port in (None, port.name)
        ]
        wanted = f"service {settings.service}" + (f" port {settings.port}" if settings.port else "")
    else:
        kind = BINDINGS[settings.soap_version]
        chosen = [port for _, port in ports if type(port.binding) is kind]
        wanted = f"a SOAP {settings.soap_version} port"
    if not chosen:
        listed = ", ".join(f"{service}/{port.name}" for service, port in ports) or "none"
        raise PermanentError(f"the WSDL has no {wanted} (ports: {listed})")
    port = chosen[0]
    options = dict(port.binding_options)
    if settings.address is not None:
        options["address"] = settings.address
    if not options.get("address"):
        raise PermanentError(f"port {port.name} has no address: set the address setting")
    return AsyncServiceProxy(client, port.binding, **options)


def check_schema(service: AsyncServiceProxy, schema: SoapSchema) -> None:
    """Every operation the backend section names is the port's, and every path in it
    names elements of that operation's request or response."""
    binding = service._binding
    problems = []
    for operation in schema.operations.declared().values():
        try:
            bound = binding.get(operation.operation)
        except ValueError:
            known = ", ".join(sorted(binding._operations)) or "none"
            problems.append(f"no operation {operation.operation} (operations: {known})")
            continue
        for side, path in _paths(operation):
            body = bound.input.body if side == "request" else bound.output.body
            missing = _missing_element(body, path)
            if missing is not None:
                problems.append(f"{operation.operation}: {side} path {path}: no element {missing}")
    if problems:
        raise PermanentError("the backend section does not fit the WSDL: " + "; ".join(problems))


def _paths(operation: Operation) -> Iterator[tuple[str, str]]:
    yield from (("request", path) for path in operation.constants)
    result = getattr(operation, "result", None)
    if result is not None:
        yield "response", result
    requested: list[str | None] = []
    if isinstance(operation, CreateOperation | FindByReferenceOperation):
        requested.append(operation.reference)
    if isinstance(operation, CreateOperation | PostUpdateOperation):
        requested.append(operation.payload)
    if isinstance(operation, GetOperation):
        requested += [operation.id, operation.ids]
    if isinstance(operation, SearchOperation):
        requested += [operation.ids, operation.limit, *operation.any_of.values()]
        for bounds in operation.ranges.values():
            requested += [bounds.low, bounds.high]
    if isinstance(operation, UpdatesOperation):
        requested += [operation.since, operation.until]
    yield from (("request", path) for path in requested if path is not None)


def _missing_element(body: Any, path: str) -> str | None:
    """The first name of `path` that is not an element where it is looked for."""
    xsd_type = body.type if body is not None else None
    for name in path.split("."):
        elements = dict(getattr(xsd_type, "elements", None) or ())
        if name not in elements:
            return name
        xsd_type = elements[name].type
    return None
