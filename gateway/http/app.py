"""The aiohttp application: probes, then every other path through the Open311 edge."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from gateway.http.edge import Edge
from gateway.http.handlers import open311_routes
from gateway.http.probes import healthz, metrics, readiness
from gateway.runtime import Runtime, freeze_startup_objects

RUNTIME = web.AppKey("runtime", Runtime)

LISTEN_BACKLOG = 1024
"""Connections the kernel holds for the gateway to accept (capped by net.core.somaxconn).
aiohttp's default of 128 makes the rest of a burst of new clients wait for a SYN
retransmission, a full second, before the gateway even sees them."""


def create_app(runtime: Runtime, *, serves_until_stopped: bool = False) -> web.Application:
    """An application serving `runtime`; it starts and closes the runtime with itself.
    `serves_until_stopped`: the process's one application (`serve`), which may keep what
    start-up built away from the cyclic collector (`freeze_startup_objects`)."""
    settings = runtime.config.gateway
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[RUNTIME] = runtime
    edge = Edge(runtime, open311_routes(settings.base_path), access_log=settings.access_log)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readiness(runtime))
    app.router.add_get("/metrics", metrics(runtime))
    app.router.add_route("*", "/{path:.*}", edge.handle)
    app.cleanup_ctx.append(_lifecycle)
    if serves_until_stopped:
        app.on_startup.append(_started)  # runs after the runtime started
    return app


async def _started(_app: web.Application) -> None:
    freeze_startup_objects()


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RUNTIME]
    await runtime.start()
    yield
    await runtime.close()
