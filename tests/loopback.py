"""The gateway served over TCP on loopback, in the calling process, as `serve` serves it:
behind aiohttp's test client (`GatewayTestServer`), or on a port of its own (`serving`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import BaseTestServer

from gateway.http.app import LISTEN_BACKLOG, GatewayRunner
from gateway.runtime import Runtime


class GatewayTestServer(BaseTestServer):
    """`aiohttp_client(GatewayTestServer(runtime))`: the runtime starts with the server
    and closes with it, as under `serve`."""

    def __init__(
        self, runtime: Runtime, *, serves_until_stopped: bool = False, **kwargs: Any
    ) -> None:
        self.runtime = runtime
        self._serves_until_stopped = serves_until_stopped
        super().__init__(**kwargs)

    async def _make_runner(self, **kwargs: Any) -> GatewayRunner:
        return GatewayRunner(
            self.runtime, serves_until_stopped=self._serves_until_stopped, **kwargs
        )


@asynccontextmanager
async def serving(runtime: Runtime, *, as_the_process: bool = False) -> AsyncIterator[str]:
    """The gateway on a loopback port with the listen backlog `serve` uses; its base URL.
    `as_the_process` (benchmarks, not the suite): the process's one gateway, whose
    start-up objects are frozen as `serve` freezes them."""
    runner = GatewayRunner(runtime, serves_until_stopped=as_the_process, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=LISTEN_BACKLOG)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
