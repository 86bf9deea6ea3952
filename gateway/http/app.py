"""The gateway's HTTP server: aiohttp's low-level server, one handler for every request.

The probes answer their exact paths; every other path goes through the Open311 edge,
which resolves it itself (`gateway.http.routing`). An aiohttp `Application` would
resolve each request a second time through its own router, and build match info and
signals that nothing here uses: a tenth of the instructions of a cached GET, counted
by callgrind (tests/bench/bench_cost.py). `GatewayRunner` gives the lifecycle an
application would: the runtime starts before the first request and closes after the
last one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http import HttpVersion11, RawRequestMessage
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

from gateway.http.edge import Edge
from gateway.http.handlers import open311_routes
from gateway.http.probes import Probe, healthz, metrics, readiness
from gateway.runtime import Runtime, freeze_startup_objects

LISTEN_BACKLOG = 1024
"""Connections the kernel holds for the gateway to accept (capped by net.core.somaxconn).
aiohttp's default of 128 makes the rest of a burst of new clients wait for a SYN
retransmission, a full second, before the gateway even sees them."""

KEEPALIVE_SECONDS = 75.0
"""How long an idle client connection stays open: what `web.run_app` sets, where
aiohttp's server alone would keep it an hour."""


class GatewayHandler:
    """Every request of one runtime: a probe, or an Open311 call."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.config.gateway
        self._edge = Edge(
            runtime, open311_routes(settings.base_path), access_log=settings.access_log
        )
        self._probes: dict[str, Probe] = {
            "/healthz": healthz,
            "/readyz": readiness(runtime),
            "/metrics": metrics(runtime),
        }

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        if hdrs.EXPECT in request.headers:
            await _expect(request)
        probe = self._probes.get(request.path)
        if probe is None:
            return await self._edge.handle(request)
        if request.method not in _PROBE_METHODS:
            raise web.HTTPMethodNotAllowed(request.method, _PROBE_METHODS)
        return await probe(request)


_PROBE_METHODS = (hdrs.METH_GET, hdrs.METH_HEAD)


async def _expect(request: web.BaseRequest) -> None:
    """A client that waits to be told to send its body (curl does past 1 KiB) is told
    to go on; an expectation other than 100-continue fails with 417."""
    expectation = request.headers[hdrs.EXPECT]
    if request.version != HttpVersion11:
        return
    if expectation.lower() != "100-continue":
        raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expectation}")
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0  # the answer proper starts after the interim one
    await request.writer.drain()


class GatewayRunner(web.BaseRunner):
    """Serves one runtime: `setup` starts it, then takes requests; `cleanup` stops
    taking them, lets those in flight finish, then closes it. `serves_until_stopped`:
    the process's one gateway (`serve`), which may keep what start-up built away from
    the cyclic collector (`freeze_startup_objects`). Other keyword arguments go to
    aiohttp's `Server` (`access_log`, `handler_cancellation`, ...)."""

    __slots__ = ("_serves_until_stopped", "runtime")

    def __init__(
        self, runtime: Runtime, *, serves_until_stopped: bool = False, **kwargs: Any
    ) -> None:
        kwargs.setdefault("keepalive_timeout", KEEPALIVE_SECONDS)
        super().__init__(**kwargs)
        self.runtime = runtime
        self._serves_until_stopped = serves_until_stopped

    async def shutdown(self) -> None:
        """Nothing to tell the runtime before the connections close: it closes after."""

    async def _make_server(self) -> web.Server:
        await self.runtime.start()
        if self._serves_until_stopped:
            freeze_startup_objects()
        loop = asyncio.get_running_loop()
        max_body_bytes = self.runtime.config.gateway.max_body_bytes

        def new_request(
            message: RawRequestMessage,
            payload: StreamReader,
            protocol: RequestHandler,
            writer: AbstractStreamWriter,
            task: asyncio.Task[None],
        ) -> web.BaseRequest:
            return web.BaseRequest(
                message, payload, protocol, writer, task, loop, client_max_size=max_body_bytes
            )

        return web.Server(GatewayHandler(self.runtime), request_factory=new_request, **self._kwargs)

    async def _cleanup_server(self) -> None:
        await self.runtime.close()
