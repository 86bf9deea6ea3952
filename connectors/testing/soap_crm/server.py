"""The CaseWorks simulator: an aiohttp server publishing the WSDL at `/?wsdl` and answering
SOAP 1.1 and 1.2 at `/`, with knobs a test turns while it runs.

- `latency`: seconds added before every answer;
- `fault_rate`: the share of calls answered with a Receiver fault (`BUSY`, "try again
  later"), drawn from a seeded random generator so a run can be repeated;
- `outage`: every request (the WSDL's too) answered 503 by the "load balancer" in
  front (an HTML page, not SOAP), as while the CRM is down for maintenance.

Callers authenticate with HTTP basic auth or a WS-Security UsernameToken (`auth` says
which are accepted); anything else is a 401. `calls` counts the operations served.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from enum import StrEnum
from importlib.resources import files
from typing import Self

from aiohttp import BasicAuth, hdrs, web

from connectors.testing.soap_crm.crm import Crm, CrmError
from connectors.testing.soap_crm.envelopes import (
    CONTENT_TYPES,
    SOAP12,
    Envelope,
    NotSoap,
    envelope,
    fault,
    read_envelope,
    username_token,
)
from connectors.testing.soap_crm.messages import OPERATIONS, operation_of

DEFAULT_USERNAME = "gateway"
DEFAULT_PASSWORD = "caseworks-demo"
"""The demo credentials the simulator accepts unless told otherwise."""
WSDL_ADDRESS = b"http://127.0.0.1:8311/"
"""The service address written in the shipped WSDL; served, it is the simulator's own."""
OUTAGE_PAGE = b"<html><body><h1>503 Service Unavailable</h1>CaseWorks is down.</body></html>"


class Auth(StrEnum):
    EITHER = "either"
    BASIC = "basic"
    WSSE = "wsse"
    NONE = "none"


def wsdl_document() -> bytes:
    return files(__package__).joinpath("caseworks.wsdl").read_bytes()


class SoapCrm:
    """One simulated CRM; `app` serves it, `start`/`stop` run it on loopback, and so does
    `async with`. Its `url`, `wsdl_url`, `crm` and knobs (`latency`, `fault_rate`,
    `outage`) are the caller's to use and turn while it runs."""

    def __init__(
        self,
        crm: Crm | None = None,
        *,
        auth: Auth = Auth.EITHER,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        seed: int | None = 311,
    ) -> None:
        self.crm = crm or Crm()
        self.auth = auth
        self.username = username
        self.password = password
        self.latency = latency
        self.fault_rate = fault_rate
        self.outage = False
        self.calls: Counter[str] = Counter()
        self._random = random.Random(seed)
        self._wsdl = wsdl_document()
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self.url = ""
        """The service address (`http://127.0.0.1:PORT/`) once started."""
        self.app = web.Application()
        self.app.router.add_get("/", self._get_wsdl)
        self.app.router.add_post("/", self._post)

    @property
    def wsdl_url(self) -> str:
        return f"{self.url}?wsdl"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on `host:port` (0: a free port); `url` says where."""
        self._stopping.clear()
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.url = f"http://{host}:{bound}/"

    async def stop(self) -> None:
        self._stopping.set()  # calls held by `latency` end now, not after it
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """`async with SoapCrm(...) as crm`: on a free loopback port for the block."""
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def _get_wsdl(self, request: web.Request) -> web.Response:
        if self.outage:
            return _outage()
        if not any(key.lower() == "wsdl" for key in request.query):
            raise web.HTTPNotFound(text="the WSDL is at /?wsdl")
        address = f"{request.scheme}://{request.host}/".encode()
        return web.Response(body=self._wsdl.replace(WSDL_ADDRESS, address), content_type="text/xml")

    async def _post(self, request: web.Request) -> web.Response:
        if self.latency:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.latency)
        if self.outage:
            return _outage()
        try:
            message = read_envelope(await request.read())
        except NotSoap as exc:
            return web.Response(status=400, text=str(exc))
        if not self._authorised(request, message):
            return web.Response(
                status=401,
                text="credentials required",
                headers={hdrs.WWW_AUTHENTICATE: 'Basic realm="CaseWorks"'},
            )
        try:
            operation = operation_of(message.request)
            self.calls[operation] += 1
            if self.fault_rate and self._random.random() < self.fault_rate:
                raise CrmError("BUSY", "CaseWorks is busy, try again later", sender=False)
            answer = envelope(message.version, OPERATIONS[operation](self.crm, message.request))
            status = 200
        except CrmError as error:
            answer = fault(message.version, error)
            status = 400 if message.version == SOAP12 and error.sender else 500
        return web.Response(
            status=status,
            body=answer,
            content_type=CONTENT_TYPES[message.version],
            charset="utf-8",
        )

    def _authorised(self, request: web.Request, message: Envelope) -> bool:
        if self.auth is Auth.NONE:
            return True
        if self.auth in (Auth.EITHER, Auth.BASIC):
            header = request.headers.get(hdrs.AUTHORIZATION)
            if header is not None:
                return _basic_credentials(header) == (self.username, self.password)
        if self.auth in (Auth.EITHER, Auth.WSSE):
            token = username_token(message.header)
            return token is not None and token.matches(self.username, self.password)
        return False


def _basic_credentials(header: str) -> tuple[str, str] | None:
    try:
        given = BasicAuth.decode(header, encoding="utf-8")
    except ValueError:  # not Basic, or not base64 of UTF-8 text
        return None
    return given.login, given.password


def _outage() -> web.Response:
    return web.Response(status=503, body=OUTAGE_PAGE, content_type="text/html")
