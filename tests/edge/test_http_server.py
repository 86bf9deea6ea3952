"""The gateway's own HTTP server (aiohttp's low-level server): what an aiohttp
application would have done for it, it does itself: interim answers to `Expect`, the
probes' methods, and, under `serve`, a graceful stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from children import answering, free_port, output_of, stopped

from gateway.embedded import KEY_ENV

from clientforms import API_KEY, attribute_params, service_of, valid_request


async def exchange(client: TestClient, head: bytes, body: bytes) -> tuple[bytes, bytes]:
    """Send `head`, read what the server says before the body (nothing, or an interim
    answer), then send `body`: what came before it, and the whole answer after."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(head)
        await writer.drain()
        try:
            async with asyncio.timeout(0.5):
                interim = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            interim = b""
        if interim.startswith(b"HTTP/1.1 417"):
            return interim, await reader.read()
        writer.write(body)
        await writer.drain()
        return interim, await reader.read()
    finally:
        writer.close()


def post_head(path: str, body: bytes, expect: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nExpect: {expect}\r\n\r\n"
    ).encode()


async def test_a_client_that_expects_100_continue_is_told_to_send_its_body(
    client: TestClient,
) -> None:
    service = await service_of(client, type="batch")
    body = urllib.parse.urlencode(await valid_request(client, service["service_code"])).encode()
    interim, answer = await exchange(
        client, post_head("/requests.json", body, "100-continue"), body
    )
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:200]
    assert b'"token":' in answer


async def test_an_unknown_expectation_is_refused_with_417(client: TestClient) -> None:
    interim, _ = await exchange(client, post_head("/requests.json", b"", "something-else"), b"")
    assert interim.startswith(b"HTTP/1.1 417 ")


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_a_probe_answers_get_and_head_and_refuses_other_methods(
    client: TestClient, path: str
) -> None:
    assert (await client.get(path)).status == 200
    assert (await client.head(path)).status == 200
    refused = await client.post(path)
    assert refused.status == 405
    assert refused.headers["Allow"] == "GET,HEAD"


async def started_serve(data: Path, port: int, log: Path) -> asyncio.subprocess.Process:
    """`open311-gateway serve` on the embedded default in `data`, once it answers."""
    env = {**os.environ, "OPEN311_DATA_DIR": str(data), KEY_ENV: API_KEY}
    with log.open("ab") as output:
        child = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "gateway", "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    await answering(f"http://127.0.0.1:{port}/healthz", child, log)
    return child


async def test_serve_stops_on_sigterm_and_keeps_what_it_accepted(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    child = await started_serve(tmp_path / "data", port, log)
    try:
        async with aiohttp.ClientSession(base) as session:
            async with session.get("/services.json") as response:
                batch = next(s for s in await response.json() if s["type"] == "batch")
            async with session.get(f"/services/{batch['service_code']}.json") as response:
                attributes = attribute_params(await response.json())
            form = [
                ("api_key", API_KEY),
                ("service_code", batch["service_code"]),
                ("lat", "51.5072"),
                ("long", "-0.1276"),
                ("description", "Accepted before the stop"),
                *attributes,
            ]
            async with session.post("/requests.json", data=form) as response:
                assert response.status == 200, await response.text()
                token = (await response.json())[0]["token"]
    finally:
        status = await stopped(child)
    assert status == 0, output_of(log)
    assert "Traceback" not in output_of(log)
    child = await started_serve(tmp_path / "data", port, log)
    try:
        async with (
            aiohttp.ClientSession(base) as session,
            session.get(f"/tokens/{token}.json") as response,
        ):
            assert response.status == 200, await response.text()
            assert (await response.json())[0]["token"] == token
    finally:
        await stopped(child)
