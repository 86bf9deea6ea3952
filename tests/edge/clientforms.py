"""Build valid POST bodies from a service definition, as a client app would."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

API_KEY = "test-key-0123456789"

_SAMPLE = {
    "string": "sample",
    "text": "a longer\ntext",
    "number": "12.5",
    "datetime": "2026-11-01T08:30:00Z",
}


async def catalogue(client: TestClient) -> list[dict[str, Any]]:
    response = await client.get("/services.json")
    assert response.status == 200
    return await response.json()


async def definition(client: TestClient, code: str) -> dict[str, Any]:
    response = await client.get(f"/services/{code}.json")
    assert response.status == 200
    return await response.json()


def attribute_params(definition: dict[str, Any]) -> list[tuple[str, str]]:
    """A valid value for every variable attribute, in the spec's `[]` dialect for lists."""
    params: list[tuple[str, str]] = []
    for attribute in definition["attributes"]:
        if not attribute["variable"]:
            continue
        code, datatype = attribute["code"], attribute["datatype"]
        if datatype == "multivaluelist":
            params += [(f"attribute[{code}][]", v["key"]) for v in attribute["values"][:2]]
        elif datatype == "singlevaluelist":
            params.append((f"attribute[{code}]", attribute["values"][0]["key"]))
        else:
            params.append((f"attribute[{code}]", _SAMPLE[datatype]))
    return params


async def service_of(client: TestClient, **wanted: Any) -> dict[str, Any]:
    """The first service whose fields equal `wanted` (e.g. type="batch")."""
    for service in await catalogue(client):
        if all(service.get(key) == value for key, value in wanted.items()):
            return service
    raise AssertionError(f"the embedded catalogue has no service with {wanted}")


async def valid_request(client: TestClient, code: str) -> list[tuple[str, str]]:
    params = [
        ("api_key", API_KEY),
        ("service_code", code),
        ("lat", "51.507200"),
        ("long", "-0.127600"),
        ("description", "Reported in a test"),
        ("email", "alice@example.org"),
        ("first_name", "Alice"),
        ("last_name", "Liddell"),
        ("phone", "+44 20 7946 0000"),
    ]
    return params + attribute_params(await definition(client, code))


async def create(client: TestClient, code: str, fmt: str = "json") -> dict[str, Any]:
    response = await client.post(f"/requests.{fmt}", data=await valid_request(client, code))
    body = await response.text()
    assert response.status == 200, body
    return (await response.json())[0] if fmt == "json" else {"xml": body}
