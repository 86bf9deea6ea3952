"""The open311 connector against third-party Open311 servers: what they send over the
wire, and the ways they differ from this gateway (no updates, no key lookup, tokens
resolved late, throttling, pages that are not Open311), answered by a server on
loopback that each test scripts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp import web
from multidict import MultiDict

from connectors.base import (
    BackendQuery,
    Capability,
    NotFoundError,
    PermanentError,
    Range,
    TransientError,
    UnsupportedError,
)
from connectors.upstream import UpstreamConnector

from gateways import UPSTREAM_KEY, upstream_connector

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: Any = field(default_factory=list)
    """JSON-encoded unless bytes."""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    method: str
    resource: str
    query: MultiDict[str]
    form: MultiDict[str]
    headers: dict[str, str]


def errors(status: int, *descriptions: str) -> Answer:
    return Answer(status, [{"code": status, "description": text} for text in descriptions])


class ThirdParty:
    """Answers `METHOD resource` (the path without its suffix) with what a test scripted,
    in turn when it scripted several (the last one repeats); 404 when it scripted none."""

    def __init__(self) -> None:
        self.script: dict[tuple[str, str], list[Answer]] = {}
        self.seen: list[Seen] = []

    def on(self, method: str, resource: str, *answers: Answer) -> None:
        self.script[method, resource] = list(answers)

    def calls(self, method: str, resource: str) -> list[Seen]:
        return [seen for seen in self.seen if (seen.method, seen.resource) == (method, resource)]

    async def handle(self, request: web.Request) -> web.Response:
        resource = request.path.strip("/").rsplit(".", 1)[0]
        form = await request.post() if request.method == "POST" else MultiDict()
        self.seen.append(
            Seen(request.method, resource, request.query.copy(), form.copy(), dict(request.headers))
        )
        answers = self.script.get((request.method, resource), [errors(404, "no such resource")])
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        body = answer.body if isinstance(answer.body, bytes) else orjson.dumps(answer.body)
        return web.Response(status=answer.status, body=body, headers=answer.headers)


@pytest.fixture
async def server(aiohttp_server: Any) -> tuple[ThirdParty, str]:
    third_party = ThirdParty()
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", third_party.handle)
    running = await aiohttp_server(app)
    return third_party, str(running.make_url("")).rstrip("/")


@pytest.fixture
async def connect(server: tuple[ThirdParty, str]) -> AsyncIterator[Any]:
    """Makes started connectors to the scripted server; closes them after the test."""
    made: list[UpstreamConnector] = []

    async def make(**settings: Any) -> UpstreamConnector:
        connector = upstream_connector(server[1], "json", timeout=5.0, **settings)
        await connector.start()
        made.append(connector)
        return connector

    yield make
    for connector in made:
        await connector.close()


# --- on the wire ------------------------------------------------------------------------


async def test_what_a_post_carries(server: tuple[ThirdParty, str], connect: Any) -> None:
    third_party, _ = server
    third_party.on("POST", "requests", Answer(body=[{"service_request_id": 55}]))
    stored = {"service_request_id": "55", "status": "open", "service_code": "BULKY"}
    third_party.on("GET", "requests/55", Answer(body=[stored]))
    connector = await connect(jurisdiction_id="city.example")
    payload = {"service_code": "BULKY", "attributes": {"items": ["sofa", "fridge"]}}
    assert await connector.create(payload, "header:report-1") == stored
    [post] = third_party.calls("POST", "requests")
    assert post.form.getall("attribute[items][]") == ["sofa", "fridge"]
    assert post.form["attribute[gateway_ref]"] == "header:report-1"
    assert (post.form["api_key"], post.form["jurisdiction_id"]) == (UPSTREAM_KEY, "city.example")
    assert post.headers["Idempotency-Key"] == "header:report-1"
    assert "api_key" not in post.query


async def test_a_new_request_the_upstream_does_not_show_yet(
    server: tuple[ThirdParty, str], connect: Any
) -> None:
    """The POST's answer stands for it: the request is made either way."""
    third_party, _ = server
    third_party.on("POST", "requests", Answer(body=[{"service_request_id": "56"}]))
    third_party.on("GET", "requests/56", errors(503, "indexing"))
    connector = await connect()
    assert await connector.create({"service_code": "POT"}, "key-1") == {"service_request_id": "56"}


async def test_what_a_search_asks(server: tuple[ThirdParty, str], connect: Any) -> None:
    third_party, _ = server
    third_party.on(
        "GET", "requests", Answer(body=[{"service_request_id": str(i)} for i in range(5)])
    )
    connector = await connect(jurisdiction_id="city.example")
    query = BackendQuery(
        any_of={"service_code": ("POT", "DOG"), "status": ("open",)},
        ranges={"requested_datetime": Range(T0, T0 + timedelta(days=1))},
        limit=3,
    )
    assert len(await connector.search(query)) == 3
    [search] = third_party.calls("GET", "requests")
    assert dict(search.query) == {
        "service_code": "POT,DOG",
        "status": "open",
        "start_date": "2026-05-01T12:00:00Z",
        "end_date": "2026-05-02T12:00:00Z",
        "page_size": "3",
        "jurisdiction_id": "city.example",
    }


async def test_ids_an_upstream_ignored_are_left_out(
    server: tuple[ThirdParty, str], connect: Any
) -> None:
    third_party, _ = server
    listing = [{"service_request_id": i} for i in (1, 2, 3)]
    third_party.on("GET", "requests", Answer(body=listing))
    connector = await connect()
    assert await connector.get(["1", "3", "9"]) == [listing[0], listing[2]]
    [get] = third_party.calls("GET", "requests")
    assert get.query["service_request_id"] == "1,3,9"


async def test_a_definition_missing_for_a_service_with_metadata(
    server: tuple[ThirdParty, str], connect: Any
) -> None:
    third_party, _ = server
    service = {"service_code": "POT", "service_name": "Pothole", "metadata": True}
    third_party.on("GET", "services", Answer(body=[service]))
    connector = await connect()
    with pytest.raises(TransientError, match="lists service 'POT' with metadata but has no"):
        await connector.list_services()


# --- tokens -----------------------------------------------------------------------------


async def test_a_token_resolved_after_a_few_polls(
    server: tuple[ThirdParty, str], connect: Any
) -> None:
    third_party, _ = server
    third_party.on("POST", "requests", Answer(body=[{"token": "t-1"}]))
    third_party.on(
        "GET",
        "tokens/t-1",
        errors(404, "not yet"),
        Answer(body=[{"token": "t-1"}]),
        Answer(body=[{"token": "t-1", "service_request_id": "77"}]),
    )
    connector = await connect(token_poll_interval=0.01)
    record = await connector.create({"service_code": "POT"}, "key-1")
    assert record == {"token": "t-1", "service_request_id": "77"}
    assert len(third_party.calls("GET", "tokens/t-1")) == 3


async def test_polls_are_capped(server: tuple[ThirdParty, str], connect: Any) -> None:
    third_party, _ = server
    third_party.on("POST", "requests", Answer(body=[{"token": "t-2"}]))
    third_party.on("GET", "tokens/t-2", Answer(body=[{"token": "t-2"}]))
    connector = await connect(token_polls=3, token_poll_interval=0.01, reference={"find": "none"})
    assert await connector.create({"service_code": "POT"}, "key-2") == {"token": "t-2"}
    assert len(third_party.calls("GET", "tokens/t-2")) == 3


async def test_an_answer_without_id_or_token(server: tuple[ThirdParty, str], connect: Any) -> None:
    third_party, _ = server
    third_party.on("POST", "requests", Answer(body=[{"service_notice": "thanks"}]))
    connector = await connect()
    with pytest.raises(PermanentError, match="neither an id nor a token"):
        await connector.create({"service_code": "POT"}, "key-3")


# --- finding the key --------------------------------------------------------------------


async def test_an_upstream_that_ignores_the_key_lookup(
    server: tuple[ThirdParty, str], connect: Any
) -> None:
    """It lists recent requests, none of them the one asked for: that is no answer."""
    third_party, _ = server
    third_party.on("GET", "requests", Answer(body=[{"service_request_id": "1"}]))
    connector = await connect()
    with pytest.raises(UnsupportedError, match="does not look requests up by Idempotency-Key"):
        await connector.find_by_reference("key-1")


async def test_not_looking_up_at_all(connect: Any) -> None:
    connector = await connect(reference={"find": "none"})
    with pytest.raises(UnsupportedError, match="set not to look up requests by key"):
        await connector.find_by_reference("key-1")


# --- updates ----------------------------------------------------------------------------


async def test_updates_detected_missing(server: tuple[ThirdParty, str], connect: Any) -> None:
    third_party, _ = server
    connector = await connect()
    assert connector.supports(Capability.UPDATES)
    with pytest.raises(UnsupportedError, match="does not serve servicerequestupdates"):
        await connector.updates(T0, T0 + timedelta(hours=1))
    assert not connector.supports(Capability.UPDATES)
    assert not connector.supports(Capability.POST_UPDATE)
    with pytest.raises(UnsupportedError):
        await connector.post_update({"service_request_id": "1", "description": "x"})
    assert len(third_party.calls("GET", "servicerequestupdates")) == 1
    assert third_party.calls("POST", "servicerequestupdates") == []


async def test_updates_detected_before_the_first_post(
    server: tuple[ThirdParty, str], connect: Any
) -> None:
    """Once the extension is known to be there, a 404 to a POST is an unknown request."""
    third_party, _ = server
    third_party.on("GET", "servicerequestupdates", Answer(body=[]))
    third_party.on("POST", "servicerequestupdates", errors(404, "no request '9'"))
    connector = await connect()
    with pytest.raises(NotFoundError, match="no request '9'"):
        await connector.post_update({"service_request_id": "9", "description": "x"})
    with pytest.raises(NotFoundError):
        await connector.post_update({"service_request_id": "9", "description": "x"})
    assert len(third_party.calls("GET", "servicerequestupdates")) == 1


async def test_updates_switched_off(server: tuple[ThirdParty, str], connect: Any) -> None:
    third_party, _ = server
    connector = await connect(updates=False)
    with pytest.raises(UnsupportedError):
        await connector.updates(T0, T0 + timedelta(hours=1))
    assert third_party.seen == []


async def test_updates_in_the_window_oldest_first(
    server: tuple[ThirdParty, str], connect: Any
) -> None:
    """An upstream whose end is inclusive and whose order is its own."""
    third_party, _ = server
    at = {name: (T0 + timedelta(minutes=m)).isoformat() for name, m in [("a", 5), ("b", 1)]}
    listing = [
        {"update_id": "end", "updated_datetime": "2026-05-01T13:00:00Z"},
        {"update_id": "a", "updated_datetime": at["a"]},
        {"update_id": "b", "updated_datetime": at["b"]},
    ]
    third_party.on("GET", "servicerequestupdates", Answer(body=listing))
    connector = await connect(updates=True)
    found = await connector.updates(T0, T0 + timedelta(hours=1))
    assert [update["update_id"] for update in found] == ["b", "a"]
    [call] = third_party.calls("GET", "servicerequestupdates")
    assert (call.query["start_date"], call.query["end_date"]) == (
        "2026-05-01T12:00:00Z",
        "2026-05-01T13:00:00Z",
    )


# --- failures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error", "reason"),
    [
        (errors(503, "down for maintenance"), TransientError, "503 to GET services: down for"),
        (errors(429, "slow down"), TransientError, "429 to GET services: slow down"),
        (Answer(500, b"<h1>Oops</h1>"), TransientError, "500 to GET services: HTTP 500"),
        (Answer(408, b""), TransientError, "408 to GET services"),
        (Answer(200, b"<html>Welcome</html>"), TransientError, "answer to GET services is not"),
        (errors(501, "not implemented"), UnsupportedError, "501 to GET services"),
        (errors(400, "bad", "worse"), PermanentError, "400 to GET services: bad; worse"),
        (
            Answer(302, b"", {"Location": "https://elsewhere.example/"}),
            PermanentError,
            "302 to GET services: HTTP 302 (point the endpoint at the final address)",
        ),
    ],
)
async def test_failures_are_typed(
    server: tuple[ThirdParty, str], connect: Any, answer: Answer, error: type, reason: str
) -> None:
    third_party, _ = server
    third_party.on("GET", "services", answer)
    connector = await connect()
    with pytest.raises(error) as failed:
        await connector.list_services()
    assert reason in failed.value.reason


async def test_descriptions_are_quoted_without_secrets_or_addresses(
    server: tuple[ThirdParty, str], connect: Any
) -> None:
    third_party, _ = server
    quoted = f"api_key {UPSTREAM_KEY} cannot post as bob.smith@example.org; " + "x" * 600
    third_party.on("POST", "requests", errors(400, quoted))
    connector = await connect()
    with pytest.raises(PermanentError) as refused:
        await connector.create({"service_code": "POT"}, "key-1")
    reason = refused.value.reason
    assert "api_key [api_key] cannot post as [email]; xxx" in reason
    assert UPSTREAM_KEY not in reason and "bob" not in reason
    assert reason.endswith("…") and len(reason) < 600
