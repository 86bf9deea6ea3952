"""A tiny REST ticketing API on loopback, the back office the example connector talks to.

`POST /api/tickets` checks the bearer token and the category, refuses a reference that
is taken (409), and answers the stored ticket (201) with its `id`, `status` and
`created_at`; `GET /api/tickets` filters by `field=value` (repeated: any of them),
`field.gte` and `field.lt`, sorts by `order=-field` and cuts at `limit`; `GET /api/health`
answers while it is up. A test makes every call answer `failure` (a status code), or
never answer while `stalled` is set.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

TOKEN = "simulator-token"
CATEGORIES = frozenset({"ROAD-HOLE", "GRAFFITI"})


class RestSimulator:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.tickets: list[dict[str, Any]] = []
        self.failure: int | None = None
        self.stalled = False
        self._released = asyncio.Event()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""
        """The API's base URL, once started."""

    async def start(self) -> None:
        app = web.Application(middlewares=[self._faults, self._authorised])
        app.router.add_get("/api/health", self._health)
        app.router.add_post("/api/tickets", self._create)
        app.router.add_get("/api/tickets", self._search)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/api"

    async def close(self) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> RestSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    @web.middleware
    async def _faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.stalled:
            await self._released.wait()
        if self.failure is not None:
            return web.json_response({"error": "injected failure"}, status=self.failure)
        return await handler(request)

    @web.middleware
    async def _authorised(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "bad token"}, status=401)
        return await handler(request)

    async def _health(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _create(self, request: web.Request) -> web.Response:
        ticket = await request.json()
        if not isinstance(ticket, dict) or ticket.get("category") not in CATEGORIES:
            return web.json_response({"error": "unknown category"}, status=422)
        reference = ticket.get("reference")
        if reference is not None and any(t.get("reference") == reference for t in self.tickets):
            return web.json_response({"error": "reference taken"}, status=409)
        now = datetime.now(UTC).replace(microsecond=0)
        stored = {**ticket, "id": next(self._ids), "status": "new", "created_at": now.isoformat()}
        self.tickets.append(stored)
        return web.json_response(stored, status=201)

    async def _search(self, request: web.Request) -> web.Response:
        found = list(self.tickets)
        for name in set(request.query) - {"order", "limit"}:
            field, _, bound = name.partition(".")
            values = request.query.getall(name)
            found = [t for t in found if _matches(t.get(field), bound, values)]
        order = request.query.get("order", "-id").removeprefix("-")
        found.sort(key=lambda t: _comparable(t.get(order)), reverse=True)
        return web.json_response(found[: int(request.query.get("limit", "1000"))])


def _matches(value: Any, bound: str, wanted: list[str]) -> bool:
    if value is None:
        return False
    if bound == "gte":
        return _comparable(value) >= _comparable(wanted[0])
    if bound == "lt":
        return _comparable(value) < _comparable(wanted[0])
    return str(value) in wanted


def _comparable(value: Any) -> Any:
    """Numbers as numbers, timestamps as instants (their text may differ in zone), anything
    else as text."""
    if isinstance(value, int | float):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
