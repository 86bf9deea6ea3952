"""The example connector package (`examples/rest-connector`), installed with pip into a
folder outside the gateway's tree, is found through its entry point: `connectors` lists
it, and `serve`, run on the example's own configuration, answers POST and GET
requests.json through it against the simulated REST API, with no change to the gateway.
A package installed beside it that fails to import is listed with its error and takes
down only the jurisdiction that uses it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from children import answering, free_port, stopped
from lxml import etree

from rest_simulator import TOKEN, RestSimulator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rest-connector"
API_KEY = "example-key"
BROKEN_ENTRY_POINTS = """\
[open311_gateway.connectors]
broken = open311_broken_connector:BrokenConnector
"""
BROKEN_MODULE = "import open311_missing_dependency\n"
BROKEN_JURISDICTION = """\
  - id: broken.city
    mapping: city.yaml
    api_key_env: OPEN311_API_KEY
    connector:
      kind: broken
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the example package, installed by pip from a copy of its source
    (the build writes beside it), and a package whose module fails to import."""
    root = tmp_path_factory.mktemp("packages")
    source = shutil.copytree(
        EXAMPLE, root / "source", ignore=shutil.ignore_patterns("__pycache__", "data")
    )
    site = root / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    pip += ["--no-build-isolation", "--target", str(site), str(source)]
    installed = subprocess.run(pip, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    broken = site / "open311_broken_connector-0.1.dist-info"
    broken.mkdir()
    (broken / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: open311-broken-connector\nVersion: 0.1\n"
    )
    (broken / "entry_points.txt").write_text(BROKEN_ENTRY_POINTS)
    (site / "open311_broken_connector.py").write_text(BROKEN_MODULE)
    return site


def environment(site: Path, **variables: str) -> dict[str, str]:
    """This environment with `site` first on the Python path (the tests' own folders are
    on the path of this process only)."""
    paths = [str(site), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **variables}


def gateway(site: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "gateway", *args]
    env = environment(site, **variables)
    return subprocess.run(command, env=env, capture_output=True, text=True)


def test_connectors_lists_the_package_and_the_broken_one(site: Path) -> None:
    """With `--strict`, the broken one also fails the command (without, it exits 0: see
    tests/unit/test_connectors_cli.py)."""
    listed = gateway(site, "connectors", "--strict")
    assert listed.returncode == 1, listed.stderr
    lines = listed.stdout.splitlines()
    at = lines.index("rest: open311_rest_connector:RestConnector (open311-rest-connector 0.1.0)")
    assert lines[at + 1] == "  capabilities: create, find_by_reference, get, search"
    at = lines.index(
        "broken: open311_broken_connector:BrokenConnector (open311-broken-connector 0.1)"
    )
    assert lines[at + 1] == (
        "  error: failed to import: ModuleNotFoundError: "
        "No module named 'open311_missing_dependency'"
    )


def backend_variables(api: RestSimulator) -> dict[str, str]:
    """What the example's configuration reads from the environment."""
    return {"OPEN311_API_KEY": API_KEY, "BACKEND_URL": api.url, "BACKEND_TOKEN": TOKEN}


@asynccontextmanager
async def serving(site: Path, config: Path, api: RestSimulator) -> AsyncIterator[str]:
    """`open311-gateway serve` on `config` in a child process, once its probes answer; its
    base URL. The child's output goes to `serve.log` beside the configuration."""
    port = free_port()
    env = environment(site, **backend_variables(api))
    log = config.with_name("serve.log")
    with log.open("wb") as output:
        child = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "gateway", "serve", "--config", str(config)],
            *["--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        await answering(f"{base}/healthz", child, log)
        yield base
    finally:
        await stopped(child)


@pytest.fixture
async def api() -> AsyncIterator[RestSimulator]:
    async with RestSimulator() as started:
        yield started


def example_config(folder: Path, extra_jurisdictions: str = "") -> Path:
    """The example's configuration and mapping, copied as they are (its SQLite store is
    created beside them), with `extra_jurisdictions` appended."""
    shutil.copy(EXAMPLE / "city.yaml", folder / "city.yaml")
    config = folder / "gateway.yaml"
    config.write_text((EXAMPLE / "gateway.yaml").read_text() + extra_jurisdictions)
    return config


POTHOLE = {
    "api_key": API_KEY,
    "service_code": "POT",
    "lat": "51.507200",
    "long": "-0.127600",
    "address_string": "1 High Street",
    "description": "Deep hole by the bus stop",
    "email": "alice@example.org",
}


async def test_serve_takes_and_reads_requests_through_the_installed_connector(
    site: Path, api: RestSimulator, tmp_path: Path
) -> None:
    async with (
        serving(site, example_config(tmp_path), api) as base,
        aiohttp.ClientSession(base) as client,
    ):
        async with client.post("/requests.json", data=POTHOLE) as response:
            assert response.status == 200, await response.text()
            (receipt,) = await response.json()
        (ticket,) = api.tickets
        assert receipt["service_request_id"] == str(ticket["id"])
        assert ticket["category"] == "ROAD-HOLE"
        assert ticket["summary"] == POTHOLE["description"]
        assert ticket["reporter_email"] == POTHOLE["email"]
        assert ticket["reference"]  # the gateway's idempotency key

        async with client.get("/requests.json?status=open&service_code=POT") as response:
            assert response.status == 200
            (found,) = await response.json()
        assert found["service_request_id"] == receipt["service_request_id"]
        assert (found["status"], found["service_code"]) == ("open", "POT")
        assert (found["address"], found["lat"]) == ("1 High Street", 51.5072)
        async with client.get("/requests.json?status=closed") as response:
            assert await response.json() == []
        async with client.get(f"/requests/{ticket['id']}.xml") as response:
            assert response.status == 200
            root = etree.fromstring(await response.read())
        assert root.findtext("request/service_request_id") == str(ticket["id"])
        async with client.get("/readyz") as response:
            assert response.status == 200, await response.text()


async def test_serve_keeps_the_others_beside_a_connector_that_fails_to_import(
    site: Path, api: RestSimulator, tmp_path: Path
) -> None:
    config = example_config(tmp_path, BROKEN_JURISDICTION)
    checked = gateway(site, "check", "--config", str(config), **backend_variables(api))
    assert checked.returncode == 1
    assert "connector 'broken' failed to import" in checked.stderr
    async with serving(site, config, api) as base, aiohttp.ClientSession(base) as client:
        async with client.get("/services.json?jurisdiction_id=example.city") as response:
            assert response.status == 200
        async with client.get("/services.xml?jurisdiction_id=broken.city") as response:
            assert response.status == 503
            assert response.headers["Retry-After"] == "30"
            root = etree.fromstring(await response.read())
        assert root.findtext("error/description") == (
            "jurisdiction broken.city: its connector cannot be loaded"
        )
        async with client.get("/readyz") as response:
            assert response.status == 200
            body = await response.json()
        assert body["status"] == "degraded"
        checks = body["checks"]
        assert checks["backend:example.city"] == "ok"
        assert checks["backend:broken.city"].startswith(
            "failed: connector 'broken' failed to import: ModuleNotFoundError"
        )
    assert '"event":"connector_import_failed"' in (tmp_path / "serve.log").read_text()
