"""Liveness and readiness probes for load balancers and Kubernetes, and the metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.connector_start import failure_reason
from gateway.metrics import CONTENT_TYPE
from gateway.runtime import Runtime

_PROBE_TIMEOUT = 5.0


async def healthz(_request: web.Request) -> web.Response:
    """The process is alive and its event loop answers."""
    return web.json_response({"status": "ok"})


def readiness(runtime: Runtime) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def readyz(_request: web.Request) -> web.Response:
        """The store and every jurisdiction's backend are reachable (its connector loaded
        and started), and every catalogue taken from a backend has loaded."""
        broken = runtime.tenants.broken.items()
        results = {
            f"backend:{jurisdiction}": f"failed: {reason}" for jurisdiction, reason in broken
        }
        checks = {"store": runtime.store.ping()}
        for tenant in runtime.tenants:
            if tenant.starter.problem is None:
                checks[f"backend:{tenant.id}"] = tenant.connector.health()
            else:
                results[f"backend:{tenant.id}"] = f"not started: {tenant.starter.problem}"
        for name, check in checks.items():
            try:
                async with asyncio.timeout(_PROBE_TIMEOUT):
                    await check
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"failed: {failure_reason(exc, _PROBE_TIMEOUT)}"
        for tenant in runtime.tenants:
            loaded = tenant.catalogue.loaded is not None
            results[f"catalogue:{tenant.id}"] = "ok" if loaded else "not loaded yet"
        ready = all(result == "ok" for result in results.values())
        body = {"status": "ok" if ready else "unavailable", "checks": results}
        return web.json_response(body, status=200 if ready else 503)

    return readyz


def metrics(runtime: Runtime) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def scrape(_request: web.Request) -> web.Response:
        """Prometheus text exposition of this gateway's metrics."""
        response = web.Response(body=await runtime.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    return scrape
