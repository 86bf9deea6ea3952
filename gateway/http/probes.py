"""Liveness and readiness probes for load balancers and Kubernetes, and the metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.connector_start import failure_reason
from gateway.metrics import CONTENT_TYPE
from gateway.runtime import Runtime

_PROBE_TIMEOUT = 5.0

Probe = Callable[[web.BaseRequest], Awaitable[web.Response]]


async def healthz(_request: web.BaseRequest) -> web.Response:
    """The process is alive and its event loop answers."""
    return web.json_response({"status": "ok"})


def readiness(runtime: Runtime) -> Probe:
    async def readyz(_request: web.BaseRequest) -> web.Response:
        """Whether this instance should take traffic, with every check and its reason.

        503 only when it cannot serve anyone: the store or the queue fails, or no
        jurisdiction is serving. A jurisdiction whose back office is down or not started
        makes it `degraded`, still 200: the other jurisdictions are served and the queue
        absorbs the outage, so a load balancer must not take the instance out for it."""
        results = {
            f"backend:{jurisdiction}": f"failed: {reason}"
            for jurisdiction, reason in runtime.tenants.broken.items()
        }
        checks: dict[str, Awaitable[object]] = {
            "store": runtime.store.ping(),
            "queue": runtime.queue.ping(),
        }
        for tenant in runtime.tenants:
            if tenant.starter.problem is None:
                checks[f"backend:{tenant.id}"] = tenant.connector.health()
            else:
                results[f"backend:{tenant.id}"] = f"not started: {tenant.starter.problem}"
        outcomes = await asyncio.gather(*map(_probe, checks.values()))
        results.update(zip(checks, outcomes, strict=True))
        for tenant in runtime.tenants:
            loaded = tenant.catalogue.loaded is not None
            results[f"catalogue:{tenant.id}"] = "ok" if loaded else "not loaded yet"
        serving = any(
            tenant.starter.problem is None and tenant.catalogue.loaded is not None
            for tenant in runtime.tenants
        )
        if results["store"] != "ok" or results["queue"] != "ok" or not serving:
            status, code = "unavailable", 503
        elif all(result == "ok" for result in results.values()):
            status, code = "ok", 200
        else:
            status, code = "degraded", 200
        return web.json_response({"status": status, "checks": results}, status=code)

    return readyz


async def _probe(check: Awaitable[object]) -> str:
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT):
            await check
    except Exception as exc:
        return f"failed: {failure_reason(exc, _PROBE_TIMEOUT)}"
    return "ok"


def metrics(runtime: Runtime) -> Probe:
    async def scrape(_request: web.BaseRequest) -> web.Response:
        """Prometheus text exposition of this gateway's metrics."""
        response = web.Response(body=await runtime.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    return scrape
