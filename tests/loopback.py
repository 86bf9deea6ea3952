"""The gateway served over TCP on loopback, in the calling process, as `serve` serves it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from gateway.http.app import LISTEN_BACKLOG, create_app
from gateway.runtime import Runtime


@asynccontextmanager
async def serving(runtime: Runtime, *, as_the_process: bool = False) -> AsyncIterator[str]:
    """The gateway on a loopback port with the listen backlog `serve` uses; its base URL.
    `as_the_process` (benchmarks, not the suite): the process's one gateway, whose
    start-up objects are frozen as `serve` freezes them."""
    app = create_app(runtime, serves_until_stopped=as_the_process)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=LISTEN_BACKLOG)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
