"""Every route in both formats against the embedded default, success and error paths."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from lxml import etree

from clientforms import (
    API_KEY,
    catalogue,
    create,
    definition,
    service_of,
    valid_request,
)
from delivery import drained
from schemas import assert_matches
from wire import assert_error, errors_of, spark, stringify

FORMATS = ["xml", "json"]


async def both_formats(client: TestClient, path: str) -> tuple[etree._Element, object]:
    xml = await client.get(f"{path}.xml")
    assert xml.status == 200 and xml.headers["Content-Type"] == "text/xml; charset=utf-8"
    body = await xml.read()
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    js = await client.get(f"{path}.json")
    assert js.headers["Content-Type"] == "application/json; charset=utf-8"
    data = await js.json()
    assert spark(body) == stringify(data), "XML and JSON disagree under the Spark convention"
    return etree.fromstring(body), data


# --- discovery and catalogue -------------------------------------------------------------


async def test_discovery(client: TestClient) -> None:
    root, data = await both_formats(client, "/discovery")
    assert root.tag == "discovery"
    assert set(data) == {"changeset", "contact", "key_service", "endpoints"}
    (endpoint,) = data["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://gateway.test"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert endpoint["type"] == "production"


async def test_services(client: TestClient) -> None:
    root, data = await both_formats(client, "/services")
    assert root.tag == "services" and {child.tag for child in root} == {"service"}
    assert_matches("services", data)
    assert len(data) >= 6
    assert {s["type"] for s in data} >= {"realtime", "batch"}
    assert any(s["metadata"] is False for s in data)


async def test_every_service_definition(client: TestClient) -> None:
    datatypes = set()
    for service in await catalogue(client):
        code = service["service_code"]
        root, data = await both_formats(client, f"/services/{code}")
        assert root.tag == "service_definition"
        assert_matches("service-definition", data)
        assert data["service_code"] == code
        assert service["metadata"] == bool(data["attributes"])
        orders = [a["order"] for a in data["attributes"]]
        assert len(orders) == len(set(orders))
        datatypes |= {a["datatype"] for a in data["attributes"]}
    assert datatypes == {
        "string",
        "number",
        "datetime",
        "text",
        "singlevaluelist",
        "multivaluelist",
    }


@pytest.mark.parametrize("fmt", FORMATS)
async def test_unknown_service_definition_is_404(client: TestClient, fmt: str) -> None:
    await assert_error(await client.get(f"/services/NOPE.{fmt}"), fmt, 404, "NOPE")


# --- POST requests -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
async def test_post_then_get_the_request(client: TestClient, fmt: str) -> None:
    service = await service_of(client, type="realtime", metadata=True)
    response = await client.post(
        f"/requests.{fmt}", data=await valid_request(client, service["service_code"])
    )
    assert response.status == 200, await response.text()
    if fmt == "json":
        (receipt,) = await response.json()
        assert isinstance(receipt["service_request_id"], str) and "token" not in receipt
        request_id = receipt["service_request_id"]
    else:
        root = etree.fromstring(await response.read())
        assert root.tag == "service_requests" and [c.tag for c in root] == ["request"]
        request_id = root.findtext("request/service_request_id")
    _, data = await both_formats(client, f"/requests/{request_id}")
    assert_matches("requests", data)
    (request,) = data
    assert request["service_request_id"] == request_id
    assert request["service_code"] == service["service_code"]
    assert request["service_name"] == service["service_name"]
    assert request["status"] == "open"
    assert request["lat"] == pytest.approx(51.5072) and request["long"] == pytest.approx(-0.1276)
    assert request["description"] == "Reported in a test"


async def test_batch_service_answers_a_token_that_resolves(client: TestClient) -> None:
    service = await service_of(client, type="batch")
    receipt = await create(client, service["service_code"])
    assert set(receipt) == {"token"}
    await drained(client.server.runtime)
    _, data = await both_formats(client, f"/tokens/{receipt['token']}")
    (resolved,) = data
    assert resolved["token"] == receipt["token"]
    assert (await client.get(f"/requests/{resolved['service_request_id']}.json")).status == 200


@pytest.mark.parametrize("fmt", FORMATS)
async def test_unknown_token_is_404(client: TestClient, fmt: str) -> None:
    await assert_error(await client.get(f"/tokens/nope.{fmt}"), fmt, 404, "token")


@pytest.mark.parametrize("fmt", FORMATS)
async def test_post_without_or_with_a_wrong_api_key_is_403(client: TestClient, fmt: str) -> None:
    service = await service_of(client, metadata=False)
    params = [
        (k, v) for k, v in await valid_request(client, service["service_code"]) if k != "api_key"
    ]
    await assert_error(await client.post(f"/requests.{fmt}", data=params), fmt, 403, "api_key")
    wrong = [*params, ("api_key", "guess")]
    await assert_error(await client.post(f"/requests.{fmt}", data=wrong), fmt, 403, "api_key")


async def test_api_key_and_jurisdiction_in_the_query_string(client: TestClient) -> None:
    service = await service_of(client, metadata=False)
    params = [
        (k, v) for k, v in await valid_request(client, service["service_code"]) if k != "api_key"
    ]
    url = f"/requests.json?api_key={API_KEY}&jurisdiction_id=example.city"
    assert (await client.post(url, data=params)).status == 200


@pytest.mark.parametrize("fmt", FORMATS)
async def test_post_lists_every_validation_problem(client: TestClient, fmt: str) -> None:
    service = await service_of(client, metadata=True, type="realtime")
    code = service["service_code"]
    required = [a for a in (await definition(client, code))["attributes"] if a["required"]]
    params = [
        ("api_key", API_KEY),
        ("service_code", code),
        ("lat", "95"),
        ("long", "-200"),
        ("description", "x" * 4001),
    ]
    response = await client.post(f"/requests.{fmt}", data=params)
    await assert_error(response, fmt, 400, "lat", "long", "description")
    errors = await errors_of(response, fmt)
    assert len(errors) >= 3 + len(required)
    for attribute in required:
        assert any(f"attribute[{attribute['code']}]" in e["description"] for e in errors)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_post_to_an_unknown_service_is_404(client: TestClient, fmt: str) -> None:
    params = {"api_key": API_KEY, "service_code": "NOPE", "address_string": "1 High St"}
    await assert_error(await client.post(f"/requests.{fmt}", data=params), fmt, 404, "NOPE")


@pytest.mark.parametrize("fmt", FORMATS)
async def test_body_over_the_limit_is_413(client: TestClient, fmt: str) -> None:
    limit = client.server.runtime.config.gateway.max_body_bytes
    body = {"api_key": API_KEY, "description": "x" * (limit + 1)}
    await assert_error(await client.post(f"/requests.{fmt}", data=body), fmt, 413, "limit")


async def test_multivalue_dialects_and_multipart_photos(client: TestClient) -> None:
    service = await service_of(client, metadata=True, type="realtime")
    params = await valid_request(client, service["service_code"])
    repeated = [(k.replace("][]", "]"), v) for k, v in params]
    assert (await client.post("/requests.json", data=repeated)).status == 200
    form = FormData()
    for key, value in [*params, ("media_url", "https://img.example/1.jpg")]:
        form.add_field(key, value.replace("\n", "\r\n"))
    form.add_field("photo1", b"\xff\xd8\xff", filename="photo1.jpg", content_type="image/jpeg")
    assert (await client.post("/requests.xml", data=form)).status == 200


# --- GET requests ------------------------------------------------------------------------


async def test_search_filters(client: TestClient) -> None:
    services = await catalogue(client)
    realtime = [s["service_code"] for s in services if s["type"] == "realtime"]
    first = await create(client, realtime[0])
    second = await create(client, realtime[1])
    _, everything = await both_formats(client, "/requests")
    assert_matches("requests", everything)
    ids = [r["service_request_id"] for r in everything]
    assert ids[:2] == [second["service_request_id"], first["service_request_id"]]

    by_code = await (await client.get(f"/requests.json?service_code={realtime[0]}")).json()
    assert {r["service_code"] for r in by_code} == {realtime[0]}

    by_id = await client.get(
        f"/requests.json?service_request_id={first['service_request_id']}&service_code=NOPE"
    )
    assert [r["service_request_id"] for r in await by_id.json()] == [first["service_request_id"]]

    assert len(await (await client.get("/requests.json?status=open")).json()) == 2
    assert await (await client.get("/requests.json?status=closed")).json() == []

    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await (await client.get(f"/requests.json?start_date={future}")).json() == []


@pytest.mark.parametrize("fmt", FORMATS)
async def test_search_rejects_a_span_over_90_days(client: TestClient, fmt: str) -> None:
    url = f"/requests.{fmt}?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z"
    await assert_error(await client.get(url), fmt, 400, "90 days")


@pytest.mark.parametrize("fmt", FORMATS)
async def test_unknown_request_is_404(client: TestClient, fmt: str) -> None:
    await assert_error(await client.get(f"/requests/999999.{fmt}"), fmt, 404, "999999")


# --- mySociety updates -------------------------------------------------------------------


async def test_updates_post_and_window(client: TestClient) -> None:
    service = await service_of(client, metadata=False)
    request_id = (await create(client, service["service_code"]))["service_request_id"]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    update = {
        "api_key": API_KEY,
        "service_request_id": request_id,
        "update_id": "fms-1",
        "status": "IN_PROGRESS",
        "updated_datetime": now,
        "description": "Seen again today",
    }
    posted = await client.post("/servicerequestupdates.json", data=update)
    assert posted.status == 200, await posted.text()
    (stored,) = await posted.json()
    assert stored["service_request_id"] == request_id and stored["update_id"]

    _, updates = await both_formats(client, "/servicerequestupdates")
    assert stored["update_id"] in {u["update_id"] for u in updates}
    again = await (await client.get("/servicerequestupdates.json")).json()
    assert [u["update_id"] for u in again] == [u["update_id"] for u in updates], (
        "ids must be stable"
    )


@pytest.mark.parametrize("fmt", FORMATS)
async def test_update_of_an_unknown_request_is_404(client: TestClient, fmt: str) -> None:
    update = {
        "api_key": API_KEY,
        "service_request_id": "999999",
        "update_id": "fms-2",
        "status": "OPEN",
        "updated_datetime": "2026-11-01T10:00:00Z",
        "description": "?",
    }
    response = await client.post(f"/servicerequestupdates.{fmt}", data=update)
    await assert_error(response, fmt, 404)


# --- routing, jurisdictions, probes ------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
async def test_doubled_slash_is_served_without_redirect(client: TestClient, fmt: str) -> None:
    url = f"{client.make_url('/')}/services.{fmt}"
    response = await client.session.get(url, allow_redirects=False)
    assert response.status == 200


async def test_unknown_suffix_and_resource_are_404_with_a_body(client: TestClient) -> None:
    await assert_error(await client.get("/services.html"), "xml", 404, ".html")
    await assert_error(await client.get("/nothing.json"), "json", 404)


async def test_wrong_method_is_405(client: TestClient) -> None:
    response = await client.delete("/services.json")
    await assert_error(response, "json", 405)
    assert response.headers["Allow"] == "GET"


@pytest.mark.parametrize("fmt", FORMATS)
async def test_jurisdictions(two_cities: TestClient, fmt: str) -> None:
    await assert_error(await two_cities.get(f"/services.{fmt}"), fmt, 400, "jurisdiction_id")
    missing = await two_cities.get(f"/services.{fmt}?jurisdiction_id=nowhere")
    await assert_error(missing, fmt, 404, "nowhere")
    assert (await two_cities.get(f"/services.{fmt}?jurisdiction_id=other.city")).status == 200


async def test_empty_jurisdiction_means_not_sent(client: TestClient) -> None:
    assert (await client.get("/services.json?jurisdiction_id=")).status == 200


async def test_probes(client: TestClient) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert set((await ready.json())["checks"].values()) == {"ok"}


async def test_readiness_fails_while_the_queue_cannot_take_a_job(client: TestClient) -> None:
    """Another process holds the write lock of the file the queue lives in: the queue's
    check fails within its lock wait, and the instance is out of rotation (503)."""
    queue_file = client.server.runtime.queue.path  # type: ignore[attr-defined]
    holder = sqlite3.connect(queue_file, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        ready = await client.get("/readyz")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    body = await ready.json()
    assert ready.status == 503 and body["status"] == "unavailable"
    assert body["checks"]["queue"].startswith("failed")
    assert body["checks"]["store"] == "ok"
    assert (await client.get("/readyz")).status == 200


async def test_metrics_count_requests_by_route_and_status(client: TestClient) -> None:
    await client.get("/services.json")
    await client.get("/services/NOPE.json")
    scrape = await client.get("/metrics")
    assert scrape.status == 200 and scrape.content_type == "text/plain"
    text = await scrape.text()
    assert 'open311_http_requests_total{method="GET",route="services",status="200"} 1.0' in text
    assert 'route="services/{code}",status="404"' in text
    assert 'open311_http_request_duration_seconds_count{route="services"} 1.0' in text


async def test_access_log_has_no_personal_data(client: TestClient, capsys, json_logs) -> None:
    json_logs()
    service = await service_of(client, metadata=False)
    await create(client, service["service_code"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    (access,) = [
        line for line in lines if line.get("event") == "request" and line["route"] == "requests"
    ]
    assert access["status"] == 200 and access["jurisdiction"] == "example.city"
    text = json.dumps(lines)
    for secret in ("alice", "Alice", "Liddell", "7946", API_KEY):
        assert secret not in text
