"""The simulator's HTTP API: Salesforce's REST resources, on aiohttp.

    POST  /services/oauth2/token                        password, client credentials, JWT bearer
    GET   /services/data/vNN.N/limits
    GET   /services/data/vNN.N/query?q=SOQL             and /query/LOCATOR for the next page
    GET   /services/data/vNN.N/sobjects/OBJECT/describe
    POST  /services/data/vNN.N/sobjects/OBJECT/         create
    GET   /services/data/vNN.N/sobjects/OBJECT/ID       read
    PATCH /services/data/vNN.N/sobjects/OBJECT/ID       update
    PATCH /services/data/vNN.N/sobjects/OBJECT/FIELD/VALUE   upsert by external id

Errors are Salesforce's bodies (`[{"message", "errorCode", "fields"}]`, and OAuth's
`{"error", "error_description"}`). `Knobs` inject latency, limit errors, server errors
and session expiry, and hold calls until released; every SOQL statement received is
kept for tests to inspect.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import unquote

import jwt
from aiohttp import web

from connectors.testing.salesforce.org import Fault, Org, Row
from connectors.testing.salesforce.query import parsed, run

Failure = Literal["limit", "unavailable", "error"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_FAILURES: dict[str, Fault] = {
    "limit": Fault(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    "unavailable": Fault(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable."),
    "error": Fault(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred."),
}
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DAILY_API_REQUESTS = 15_000
UPSERT_BODY_SINCE = 46.0
"""API versions before it answer an upsert that updated a record with 204 and no body."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the token endpoint accepts; the defaults are the example deployment's."""

    client_id: str = "open311-gateway"
    client_secret: str = "simulator-secret"
    username: str = "integration@example.city"
    password: str = "simulator-password"
    security_token: str = "simulator-token"
    jwt_public_key: bytes | None = None
    """PEM of the key that verifies JWT bearer assertions; None refuses that flow."""


class Knobs:
    """Faults on demand, set from any thread while the simulator serves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[Failure] = []
        self.latency = 0.0
        """Seconds every API call waits before it is answered."""
        self._gate = threading.Event()
        self._gate.set()
        self._arrivals = threading.Condition()
        self._held = 0

    def hold(self) -> None:
        """API calls from now on wait, unanswered, until `release`."""
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def wait_held(self, calls: int, timeout: float) -> bool:
        """Block until `calls` API calls are being held (False after `timeout` seconds):
        they have reached the simulator and wait for `release`."""
        with self._arrivals:
            return self._arrivals.wait_for(lambda: self._held >= calls, timeout)

    async def gate(self) -> None:
        """Where an API call waits while the simulator holds calls."""
        if self._gate.is_set():
            return
        with self._arrivals:
            self._held += 1
            self._arrivals.notify_all()
        try:
            await asyncio.to_thread(self._gate.wait)
        finally:
            with self._arrivals:
                self._held -= 1

    def fail_next(self, times: int, failure: Failure = "limit") -> None:
        """The next `times` API calls fail: `limit` (403 REQUEST_LIMIT_EXCEEDED),
        `unavailable` (503) or `error` (500)."""
        with self._lock:
            self._failures.extend([failure] * times)

    def pending_failures(self) -> int:
        with self._lock:
            return len(self._failures)

    def take_failure(self) -> Fault | None:
        with self._lock:
            return _FAILURES[self._failures.pop(0)] if self._failures else None


class SalesforceSimulator:
    def __init__(
        self, org: Org | None = None, credentials: Credentials | None = None, page_size: int = 2000
    ) -> None:
        self.org = org or Org()
        self.credentials = credentials or Credentials()
        self.knobs = Knobs()
        self.page_size = page_size
        self.instance_url = ""
        """Set by the server once it listens: the URL tokens send clients to."""
        self._lock = threading.Lock()
        self._sessions: set[str] = set()
        self._queries: list[str] = []
        self._pages: dict[str, tuple[list[Row], str, int]] = {}
        """Query results not yet fetched, by locator: rows, object and the total size."""
        self.grants = 0
        """Access tokens issued."""
        self.api_calls = 0

    def expire_sessions(self) -> None:
        """Every access token issued so far stops working (401 INVALID_SESSION_ID)."""
        with self._lock:
            self._sessions.clear()

    def queries(self) -> list[str]:
        """The SOQL statements received, oldest first."""
        with self._lock:
            return list(self._queries)

    def forget_queries(self) -> None:
        with self._lock:
            self._queries.clear()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._api_guard])
        app.router.add_post("/services/oauth2/token", self._token)
        data = "/services/data/{version:v[0-9]+\\.[0-9]}"
        app.router.add_get(f"{data}/limits", self._limits)
        app.router.add_get(f"{data}/limits/", self._limits)
        app.router.add_get(f"{data}/query", self._query)
        app.router.add_get(f"{data}/query/", self._query)
        app.router.add_get(f"{data}/query/{{locator}}", self._next_page)
        app.router.add_route("*", f"{data}/sobjects/{{tail:[\\s\\S]+}}", self._sobjects)
        return app

    @web.middleware
    async def _api_guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/services/data/"):
            return await handler(request)
        await self.knobs.gate()
        if self.knobs.latency:
            await asyncio.sleep(self.knobs.latency)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self._lock:
            self.api_calls += 1
            valid = scheme == "Bearer" and token in self._sessions
        try:
            if not valid:
                raise Fault(401, "INVALID_SESSION_ID", "Session expired or invalid")
            failure = self.knobs.take_failure()
            if failure is not None:
                raise failure
            return await handler(request)
        except Fault as fault:
            return _fault(fault)

    async def _token(self, request: web.Request) -> web.Response:
        if self.knobs.latency:
            await asyncio.sleep(self.knobs.latency)
        form = await request.post()
        grant = str(form.get("grant_type", ""))
        if not self._grants(grant, {key: str(value) for key, value in form.items()}):
            return web.json_response(
                {"error": "invalid_grant", "error_description": "authentication failure"},
                status=400,
            )
        access = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions.add(access)
            self.grants += 1
        return web.json_response(
            {
                "access_token": access,
                "instance_url": self.instance_url,
                "id": f"{self.instance_url}/id/00D000000000001/005000000000001",
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
                "signature": secrets.token_urlsafe(16),
            }
        )

    def _grants(self, grant: str, form: dict[str, str]) -> bool:
        known = self.credentials
        if grant == JWT_BEARER:
            return self._valid_assertion(form.get("assertion", ""))
        if form.get("client_id") != known.client_id:
            return False
        if form.get("client_secret") != known.client_secret:
            return False
        if grant == "client_credentials":
            return True
        if grant == "password":
            return form.get("username") == known.username and form.get("password") == (
                known.password + known.security_token
            )
        return False

    def _valid_assertion(self, assertion: str) -> bool:
        known = self.credentials
        if known.jwt_public_key is None:
            return False
        try:
            claims = jwt.decode(
                assertion,
                known.jwt_public_key,
                algorithms=["RS256"],
                audience=self.instance_url,
                options={"require": ["iss", "sub", "aud", "exp"]},
            )
        except jwt.PyJWTError:
            return False
        return claims["iss"] == known.client_id and claims["sub"] == known.username

    async def _limits(self, request: web.Request) -> web.Response:
        with self._lock:
            used = self.api_calls
        return web.json_response(
            {
                "DailyApiRequests": {
                    "Max": DAILY_API_REQUESTS,
                    "Remaining": max(0, DAILY_API_REQUESTS - used),
                }
            }
        )

    async def _query(self, request: web.Request) -> web.Response:
        statement = request.query.get("q", "")
        with self._lock:
            self._queries.append(statement)
        query = parsed(statement)
        rows = run(self.org, query)
        return self._page(request, rows, query.sobject, len(rows))

    async def _next_page(self, request: web.Request) -> web.Response:
        with self._lock:
            found = self._pages.pop(request.match_info["locator"], None)
        if found is None:
            raise Fault(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(request, *found)

    def _page(
        self, request: web.Request, rows: list[Row], sobject: str, total: int
    ) -> web.Response:
        """The first `page_size` rows; the rest kept for the next page's locator."""
        version = request.match_info["version"]
        page, rest = rows[: self.page_size], rows[self.page_size :]
        body: dict[str, Any] = {
            "totalSize": total,
            "done": not rest,
            "records": [_record(version, sobject, row) for row in page],
        }
        if rest:
            locator = f"01g{secrets.token_hex(6)}-{self.page_size}"
            with self._lock:
                self._pages[locator] = (rest, sobject, total)
            body["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}"
        return _json(body)

    async def _sobjects(self, request: web.Request) -> web.StreamResponse:
        version = request.match_info["version"]
        raw = request.rel_url.raw_path.split("/sobjects/", 1)[1]
        segments = [unquote(segment) for segment in raw.split("/")]
        if segments[-1] == "" and len(segments) > 1:
            segments.pop()
        sobject, rest = segments[0], segments[1:]
        spec = self.org.spec(sobject)
        method = request.method
        if rest == ["describe"] and method == "GET":
            return _json(spec.describe())
        if not rest and method == "POST":
            identifier = self.org.create(spec.name, await _body(request))
            return _json({"id": identifier, "success": True, "errors": []}, status=201)
        if len(rest) == 1 and method == "GET":
            return _json(_record(version, spec.name, self.org.get(spec.name, rest[0])))
        if len(rest) == 1 and method == "PATCH":
            self.org.update(spec.name, rest[0], await _body(request))
            return web.Response(status=204)
        if len(rest) == 2 and method == "PATCH":
            identifier, created = self.org.upsert(spec.name, *rest, await _body(request))
            if not created and float(version[1:]) < UPSERT_BODY_SINCE:
                return web.Response(status=204)
            reply = {"id": identifier, "success": True, "errors": [], "created": created}
            return _json(reply, status=201 if created else 200)
        raise Fault(404, "NOT_FOUND", "The requested resource does not exist")


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read())
    except ValueError:
        raise Fault(400, "JSON_PARSER_ERROR", "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Fault(400, "JSON_PARSER_ERROR", "Cannot deserialize the body: not an object")
    return body


def _record(version: str, sobject: str, row: Row) -> dict[str, Any]:
    attributes: dict[str, Any] = {"type": sobject}
    if row.get("Id"):
        attributes["url"] = f"/services/data/{version}/sobjects/{sobject}/{row['Id']}"
    return {"attributes": attributes, **row}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, default=_json_value),
        status=status,
        content_type="application/json",
    )


def _fault(fault: Fault) -> web.Response:
    return _json(fault.body(), status=fault.status)
