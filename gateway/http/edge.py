"""The edge: every Open311 request enters here, and leaves as bytes in its format.

It resolves the route, reads parameters within the body limit, turns every error
into an Open311 error body with the right status, and writes one access-log line.
"""

from __future__ import annotations

import time

from aiohttp import web

from gateway import logs
from gateway.http.call import Call, read_params
from gateway.http.routing import Router, requested_format
from gateway.open311.errors import Open311Error
from gateway.open311.render import CONTENT_TYPES, Format, render_errors
from gateway.randomids import random_hex
from gateway.runtime import Runtime

log = logs.get_logger("gateway.access")


class Edge:
    def __init__(self, runtime: Runtime, router: Router, *, access_log: bool = True) -> None:
        self.runtime = runtime
        self.router = router
        self.access_log = access_log

    async def handle(self, request: web.BaseRequest) -> web.Response:
        started = time.perf_counter()
        request_id = request.headers.get("X-Request-ID") or random_hex(8)
        fmt: Format | None = None
        route, call = "unmatched", None
        try:
            match = self.router.resolve(request.method, request.path)
            fmt, route = match.fmt, match.route.name
            params = await read_params(request)
            call = Call(request, self.runtime, fmt, match.argument, params)
            body = await match.handler(call)
            headers = _HEADERS[fmt]
            if call.response_headers:
                headers = headers | call.response_headers
            response = web.Response(body=body, headers=headers)
        except Open311Error as error:
            response = _error_response(error, fmt, request.path)
        except web.HTTPRequestEntityTooLarge:
            limit = self.runtime.config.gateway.max_body_bytes
            too_large = Open311Error(413, f"request body over the limit of {limit} bytes")
            response = _error_response(too_large, fmt, request.path)
        except Exception:
            log.exception("unhandled_error", request_id=request_id, route=route)
            response = _error_response(Open311Error(500, "internal error"), fmt, request.path)
        response.headers["X-Request-ID"] = request_id
        seconds = time.perf_counter() - started
        self.runtime.metrics.request_answered(route, request.method, response.status, seconds)
        if self.access_log:
            logs.access(
                request_id=request_id,
                method=request.method,
                route=route,
                jurisdiction=call.jurisdiction_id if call else None,
                status=response.status,
                latency_ms=round(seconds * 1000, 2),
            )
        return response


_HEADERS: dict[str, dict[str, str]] = {
    fmt: {"Content-Type": content_type} for fmt, content_type in CONTENT_TYPES.items()
}
"""Each format's headers: aiohttp copies them into every response, and never edits them."""


def _error_response(error: Open311Error, fmt: Format | None, path: str) -> web.Response:
    """`fmt` is None when the path matched no route: its suffix still picks the format."""
    fmt = fmt or requested_format(path)
    return web.Response(
        status=error.status,
        body=render_errors(error.problems, fmt),
        headers=_HEADERS[fmt] | error.headers,
    )
